-- The credit gauges are re-read after every transaction that moves credit: only employers in credit (a few
-- percent of 400,000) should be read for that, not the whole table.
CREATE INDEX employers_in_credit ON employers (employer_code) INCLUDE (credit) WHERE credit > 0;
