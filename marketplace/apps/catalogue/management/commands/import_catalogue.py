from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from marketplace.accounts.models import Role, User


class Command(BaseCommand):
    help = "从 CSV / XLSX 批量导入某供应商的商品和库存 (全部成功或全部不导入; 按 SKU 幂等)"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("partner", help="供应商编号 (Partner.code)")
        parser.add_argument("file", help=".csv 或 .xlsx 文件")
        parser.add_argument("--dry-run", action="store_true", help="只校验, 不写入")

    def handle(self, *args: Any, partner: str, file: str, dry_run: bool = False, **options: Any) -> None:
        from marketplace.apps.catalogue.importer import import_catalogue
        from marketplace.apps.partner.models import Partner

        target = Partner.objects.filter(code=partner).first()
        if target is None:
            raise CommandError(f"供应商 {partner} 不存在")
        # The command runs as the platform (an operator): permissions are still checked in the service.
        actor = User(username="import-command", role=Role.OPERATOR, is_superuser=True, is_active=True)
        report = import_catalogue(actor, target, file, dry_run=dry_run)
        for err in report.errors:
            self.stderr.write(str(err))
        summary = (
            f"共 {report.rows} 行: 新增 {report.created}, 更新 {report.updated}, 未变 {report.unchanged}"
        )
        if report.errors:
            raise CommandError(f"导入失败, 未写入任何数据 ({len(report.errors)} 处错误). {summary}")
        self.stdout.write(self.style.SUCCESS(("校验通过 (未写入). " if dry_run else "导入完成. ") + summary))
