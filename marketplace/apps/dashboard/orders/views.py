"""The dashboard's "download selected orders" CSV with formula-safe cells (customer names and
addresses are user input); every other order view is Oscar's."""

from oscar.apps.dashboard.orders import views

from marketplace.core.csv_safe import safe_cell


class OrderListView(views.OrderListView):
    def get_row_values(self, order):
        return {key: safe_cell(value) for key, value in super().get_row_values(order).items()}
