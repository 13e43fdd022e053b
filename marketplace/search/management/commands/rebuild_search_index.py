from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "重建商品检索: 重新计算 jieba 分词 search_text; 配置了 ELASTICSEARCH_URL 时同时重建 ES 索引"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args: Any, batch_size: int = 500, **options: Any) -> None:
        from marketplace.search.services import rebuild

        count = rebuild(batch_size=batch_size, stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS(f"完成: {count} 个商品"))
