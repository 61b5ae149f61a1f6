-- Interest payable (docs/arrears.md, "Interest payable"): collection allocates an employer's payments to fund
-- "interest" last; the allocation lines come back on collection.allocations and are recorded here by the
-- consumer "arrears-interest" (core's ledger keeps principal only). Summed per value date, like payment_lines.
CREATE TABLE interest_payments (
    employer_code text   NOT NULL,
    period        date   NOT NULL,
    value_date    date   NOT NULL,
    amount        bigint NOT NULL CHECK (amount >= 0),
    PRIMARY KEY (employer_code, period, value_date)
);
