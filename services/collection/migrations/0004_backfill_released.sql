-- Releases made before 0002 get their 'released' rows.
--
-- Before 0002, a downward revision that left more paid than owed lowered `paid` and put the excess in a
-- credit lot of its own ('released-<period>-<fund>-<n>', dated the day of the revision), but left the
-- payments' allocation rows as they were: on those obligations sum(allocations.amount) > paid. A later
-- release there (0002's code gives money back to the payments that paid it) would then give back money
-- already given back. This records those old releases as 0002 does: a negative 'released' row per payment,
-- newest allocation first, with the payment's own value date, until paid = sum(allocations.amount) again
-- for every obligation. The old lots stay as they are (their money may be allocated since, under their own
-- id); so for a payment released from before 0002, its allocations plus its lot fall short of its amount by
-- what went into such a lot. Run again, it finds nothing to do.
WITH per_payment AS (
    SELECT employer_code, period, fund, payment_id, value_date, sum(amount) AS amount, max(id) AS latest
    FROM allocations
    GROUP BY employer_code, period, fund, payment_id, value_date HAVING sum(amount) > 0),
excess AS (
    SELECT o.employer_code, o.period, o.fund, a.total - o.paid AS excess
    FROM obligations o
    JOIN (SELECT employer_code, period, fund, sum(amount) AS total FROM allocations
          GROUP BY employer_code, period, fund) a USING (employer_code, period, fund)
    WHERE a.total > o.paid),
ranked AS (
    SELECT p.*, e.excess,
           sum(p.amount) OVER (PARTITION BY p.employer_code, p.period, p.fund ORDER BY p.latest DESC)
               - p.amount AS newer  -- what the payments allocated after this one hold
    FROM per_payment p JOIN excess e USING (employer_code, period, fund))
INSERT INTO allocations (payment_id, employer_code, period, fund, amount, value_date, kind)
SELECT payment_id, employer_code, period, fund, -least(amount, excess - newer), value_date, 'released'
FROM ranked WHERE newer < excess
ORDER BY employer_code, period, fund, latest DESC;
