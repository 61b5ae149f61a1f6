"""Settings of the arrears service (environment variables prefixed ANSINH_)."""
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from ansinh.runtime.settings import ServiceSettings
from services.arrears.domain.law import DEFAULT_LAW

BUSINESS_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


class ArrearsSettings(ServiceSettings):
    service: str = "arrears"
    law_file: Path = DEFAULT_LAW
    # Fixes the business date (replays, tests); by default it is today in Asia/Ho_Chi_Minh.
    business_date: date | None = None
    # Employers are accrued in this many chunks, one transaction each (a crash loses at most one chunk's work).
    accrual_chunks: int = 8

    def today(self) -> date:
        return self.business_date or datetime.now(BUSINESS_TZ).date()
