"""Base class of every message payload and the common field types."""
from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

# Strict: "12a" or "12" never becomes 12; unknown fields are ignored so that adding an optional
# field later does not break consumers that have not upgraded.
STRICT = ConfigDict(strict=True, extra="ignore", frozen=True, str_strip_whitespace=False)


class Message(BaseModel):
    """A payload: ``event_type`` and ``schema_version`` identify it on the wire."""

    model_config = STRICT
    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1


class Part(BaseModel):
    """A nested structure inside a payload."""

    model_config = STRICT


Vnd = Annotated[int, Field(ge=0, description="Amount in Vietnamese dong (integer; the dong has no minor unit)")]
SignedVnd = Annotated[int, Field(description="Signed amount in dong (adjustments can be negative)")]
Period = Annotated[str, StringConstraints(pattern=r"^\d{4}-(0[1-9]|1[0-2])$"),
                   Field(description="Contribution or benefit month, YYYY-MM", examples=["2025-07"])]
InsuranceCode = Annotated[str, StringConstraints(pattern=r"^\d{10}$"),
                          Field(description="10-digit social insurance code")]
CitizenId = Annotated[str, StringConstraints(pattern=r"^\d{12}$"),
                      Field(description="12-digit citizen identity number (CCCD)")]
EmployerCode = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{2,15}$"),
                         Field(description="Employer unit code assigned by the agency")]
TaxCode = Annotated[str, StringConstraints(pattern=r"^\d{10}(\d{3})?$"),
                    Field(description="Employer tax code, 10 or 13 digits")]
BankBin = Annotated[str, StringConstraints(pattern=r"^\d{6}$"), Field(description="6-digit NAPAS bank BIN")]
AccountNumber = Annotated[str, StringConstraints(pattern=r"^\d{1,19}$"),
                          Field(description="Bank account number, up to 19 digits")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:/-]{1,64}$")]
EndToEndId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{1,35}$"),
                       Field(description="ISO 20022 EndToEndId (max 35 characters)")]
