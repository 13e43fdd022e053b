"""Every Oscar report (orders, products, offers, vouchers, baskets) writes CSV through
``ReportCSVFormatter.get_csv_writer``; ours neutralises spreadsheet formulas in every cell."""

from oscar.apps.dashboard.reports.reports import *  # noqa: F403
from oscar.apps.dashboard.reports.reports import ReportCSVFormatter as OscarReportCSVFormatter

from marketplace.core.csv_safe import FormulaSafeCSVWriter


class ReportCSVFormatter(OscarReportCSVFormatter):
    def get_csv_writer(self, file_handle, **kwargs):
        return FormulaSafeCSVWriter(open_file=file_handle, **kwargs)
