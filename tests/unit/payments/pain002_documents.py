"""Real-shaped pain.002 status reports, as banks send them (test data; values are made up)."""
from __future__ import annotations

from xml.sax.saxutils import escape


def _reason(code: str | None, text: str = "") -> str:
    if code is None:
        return ""
    extra = f"<AddtlInf>{escape(text)}</AddtlInf>" if text else ""
    return f"<StsRsnInf><Rsn><Cd>{code}</Cd></Rsn>{extra}</StsRsnInf>"


def pain002(original_message_id: str, *, version: str = "12", group_status: str | None = None,
            group_reason: str | None = None, block_status: str | None = None,
            transactions: list[tuple[str, str, str | None]] = (), message_id: str = "STS-970436-0001") -> str:
    """A pain.002 answering ``original_message_id`` (our pain.001 part), with transaction statuses
    (EndToEndId, status, reason code)."""
    txs = "".join(f"<TxInfAndSts><StsId>S{n}</StsId><OrgnlEndToEndId>{escape(e2e)}</OrgnlEndToEndId>"
                  f"<TxSts>{status}</TxSts>{_reason(reason, 'Tài khoản đã đóng')}</TxInfAndSts>"
                  for n, (e2e, status, reason) in enumerate(transactions, start=1))
    block = ""
    if transactions or block_status:
        status = f"<PmtInfSts>{block_status}</PmtInfSts>" if block_status else ""
        block = (f"<OrgnlPmtInfAndSts><OrgnlPmtInfId>{escape(original_message_id)}-1</OrgnlPmtInfId>{status}"
                 f"{txs}</OrgnlPmtInfAndSts>")
    group = f"<GrpSts>{group_status}</GrpSts>" if group_status else ""
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.{version}">\n'
            f"  <CstmrPmtStsRpt>\n"
            f"    <GrpHdr><MsgId>{message_id}</MsgId><CreDtTm>2026-02-02T15:30:00+07:00</CreDtTm>"
            f"</GrpHdr>\n"
            f"    <OrgnlGrpInfAndSts><OrgnlMsgId>{escape(original_message_id)}</OrgnlMsgId>"
            f"<OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId>{group}{_reason(group_reason)}</OrgnlGrpInfAndSts>\n"
            f"    {block}\n"
            f"  </CstmrPmtStsRpt>\n"
            f"</Document>\n")
