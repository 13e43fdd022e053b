"""The SMS texts of a campaign close — ONE copy, used by the ORM path (:func:`render`) and by the
PostgreSQL set-based path (``sql.notify_chunk`` substitutes the same placeholders in SQL, in the
same order: per-row values first, the campaign title last)."""

from __future__ import annotations

SUCCEEDED_HOUSEHOLD = (
    "【益农直采】团购“{title}”已成团，按最终价结算，应付 ¥{total}。到货后凭取货码 {code} 到{station}取货。"
)
SUCCEEDED_STATION = "【益农直采】团购“{title}”已成团，请查看本站配货单，到货后通知农户取货。"
FAILED_HOUSEHOLD = "【益农直采】团购“{title}”未达到成团数量，您的款项已撤销或将在站点退还。"
FAILED_STATION = "【益农直采】团购“{title}”未成团，请向现金付款的农户退款。"
UNPAID_HOUSEHOLD = (
    "【益农直采】团购“{title}”已成团，但您的在线支付授权已失效，未能扣款，本次未下单。"
    "如仍需购买，请到{station}改付现金，即按团购价下单并领取取货码。"
)
UNPAID_STATION = (
    "【益农直采】团购“{title}”：农户{household}的在线支付授权已失效，未下单、未扣款；"
    "如农户仍需购买，可在本站认购明细中点“改收现金”，收取现金后即为其下单并生成取货码。"
)

#: Placeholders in substitution order (the title, free text from a supplier, goes last).
ORDER = ("total", "code", "station", "household", "title")


def render(template: str, **values: object) -> str:
    text = template
    for name in ORDER:
        if name in values:
            text = text.replace("{" + name + "}", str(values[name]))
    return text
