"""Order statuses and Oscar's status pipeline (``OSCAR_ORDER_STATUS_PIPELINE`` in settings).

A plain module (no Django imports) so that settings can import it. Group-buy orders follow
pledge (no order yet) → ORDERED (the close made the order) → SHIPPED (supplier shipped the station
delivery) → AT_STATION (station received it; pickup code live) → COLLECTED, or REFUNDED (goods
forfeited after the uncollected-goods deadline, or refunded by an operator). Shop orders use the
same pipeline (ORDERED is Oscar's initial status; a delivered shop order is COLLECTED).
"""

from __future__ import annotations

ORDERED = "待发货"
SHIPPED = "已发货"
AT_STATION = "已到站"
COLLECTED = "已取货"
REFUNDED = "已退款"
CANCELLED = "已取消"

ORDER_STATUS_PIPELINE: dict[str, tuple[str, ...]] = {
    ORDERED: (SHIPPED, CANCELLED, REFUNDED),
    SHIPPED: (AT_STATION, COLLECTED, REFUNDED),
    AT_STATION: (COLLECTED, REFUNDED),
    COLLECTED: (REFUNDED,),
    REFUNDED: (),
    CANCELLED: (),
}
#: Lines move with their order (Oscar's cascade), through the same statuses.
LINE_STATUS_PIPELINE = ORDER_STATUS_PIPELINE
ORDER_STATUS_CASCADE = {status: status for status in ORDER_STATUS_PIPELINE}
