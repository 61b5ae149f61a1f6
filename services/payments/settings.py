"""Settings of the payments service (environment variables prefixed ANSINH_PAYMENTS_... or ANSINH_...)."""
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from ansinh.runtime.settings import ServiceSettings

BUSINESS_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
DEFAULT_CALENDAR = Path(__file__).resolve().parent / "calendar.json"


class PaymentsSettings(ServiceSettings):
    service: str = "payments"
    calendar_file: Path = DEFAULT_CALENDAR
    # Paying office codes starting with one of these are payment points (cash on days 2-10); the others are
    # post offices (days 11-25). Vietnam Post's codes: verify with its office list.
    payment_point_prefixes: list[str] = ["DCT"]
    # Rows per transaction while preparing (entitlements) and sending (payments): each chunk commits, so a
    # crash loses at most one chunk's work, and progress moves in these steps.
    run_chunk: int = 50_000
    # Schedule: on this day of the month (business date), next month's run is prepared by the service itself
    # (principal "schedule"); it still waits for an operator's approval. None: operators prepare runs.
    prepare_on_day: int | None = None
    # The fund's account that pays (pain.001 debtor): its holder, number and bank. Set them for production.
    debtor_name: str = "BAO HIEM XA HOI VIET NAM"
    debtor_account: str = "0000000000001"
    debtor_bank_bin: str = "970418"
    # Fixes the business date (replays, tests); by default it is today in Asia/Ho_Chi_Minh.
    business_date: date | None = None

    def debtor(self):
        from services.payments.iso.pain001 import Debtor
        return Debtor(self.debtor_name, self.debtor_account, self.debtor_bank_bin)

    def today(self) -> date:
        return self.business_date or datetime.now(BUSINESS_TZ).date()
