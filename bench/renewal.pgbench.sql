-- One renewal in raw SQL, the shape of what our code path does for an auto-renewal: the
-- provider's latency is slept first, with no transaction open and no lock held, as our code
-- charges the card before it applies the answer; then, in one short transaction, lock the
-- line, move its expiry (and plan: the balance is the renewal's allowances), insert the
-- renewal (the ledger row a balance is summed from) and its succeeded payment.
-- bench/run.py completes each column list and its values (the markers in comments at their
-- ends) with the NOT NULL columns the product has added since.
-- Variables (pgbench -D): lo, hi (the line ids to draw from), plan, amount, data_mb, latency_ms.
\set id random(:lo, :hi)
\sleep :latency_ms ms
BEGIN;
SELECT expires_at, customer_id FROM accounts_simline WHERE id = :id FOR NO KEY UPDATE;
UPDATE accounts_simline
   SET expires_at = greatest(expires_at, now()) + interval '30 days', plan_id = :plan, updated_at = now()
 WHERE id = :id;
INSERT INTO plans_renewal (channel, status, price_amount, currency, data_mb, voice_minutes, sms,
    validity_days, idempotency_scope, idempotency_key, period_start, period_end, carrier_reference,
    activation_attempts, created_at, paid_at, line_id, plan_id/*cols*/)
VALUES ('auto_renew', 'paid', :amount, 'EUR', :data_mb, 0, 0, 30, 'pgbench', 'pgbench-' || txid_current(),
    now(), now() + interval '30 days', '', 0, now(), now(), :id, :plan/*vals*/);
INSERT INTO payments_payment (amount, currency, method, status, stripe_payment_intent_id,
    stripe_charge_id, manual_reference, decline_code, failure_message, receipt_number, created_at,
    paid_at, customer_id, renewal_id, review_reason, off_session/*cols*/)
SELECT :amount, 'EUR', 'card', 'succeeded', 'pi_pgbench_' || txid_current(), '', '', '', '',
    'PB' || txid_current(), now(), now(), customer_id, currval(pg_get_serial_sequence('plans_renewal', 'id')),
    '', true/*vals*/
  FROM accounts_simline WHERE id = :id;
END;
