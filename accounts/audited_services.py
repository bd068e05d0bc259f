"""Every service that changes money, entitlement or customer data, in one place, with the audit
action it writes. ``tests/test_audit_trail_coverage.py`` calls each one and checks that its
entry names the actor and says why; it also fails when a function that writes audit entries
is missing here, so a new service cannot slip past the audit trail unnoticed.

Private helpers that write entries (``_apply``, ``_close``…) are covered through the listed
public functions that call them."""

AUDITED_SERVICES: dict[str, str] = {
    # Customer data
    "accounts.customers.customer_create": "customer.created",
    "accounts.customer_login.customer_login_link": "customer.login_linked",
    "accounts.details.customer_profile_update": "customer.profile_updated",
    "accounts.contact_verification.contact_change_confirm": "customer.contact_changed",
    "accounts.details.details_correct": "customer.corrected",
    "accounts.details.correction_request_create": "correction.requested",
    "accounts.details.correction_request_decide": "correction.applied",
    # Lines: registering a physical SIM, issuing an eSIM
    "accounts.line_registration.line_register": "line.registered",
    "accounts.line_registration.esim_issue": "line.esim_issued",
    # Entitlement: corrections of lines
    "accounts.corrections.adjustment_request": "correction.requested",
    "accounts.corrections.correction_decide": "correction.applied",
    "accounts.corrections.correction_reverse": "correction.requested",
    "accounts.corrections.sim_swap": "correction.sim_swap",
    "accounts.corrections.line_move": "correction.owner_move",
    "accounts.corrections.balance_adjustment_apply": "correction.applied",
    # Entitlement: renewals, periods, activation, expiry, usage
    "plans.renewals.renewal_request": "renewal.requested",
    "plans.renewals.renewal_mark_paid": "renewal.paid",
    "plans.renewals.renewals_start_at_first_use": "renewal.period_started",
    "plans.renewals.renewal_cancel": "renewal.cancelled",
    "plans.activation.renewal_activate": "renewal.activated",
    "plans.expiry.lines_expire": "line.expired",
    "plans.usage_import.usage_import": "usage.imported",
    # Money
    "payments.checkout.payment_start": "payment.started",
    "payments.checkout.payment_apply_intent": "payment.succeeded",
    "payments.manual.payment_record_manual": "payment.recorded",
    "payments.refunds.refund_request": "refund.requested",
    "payments.refunds.refund_submit": "refund.failed",
    "payments.refunds.refund_apply_provider": "refund.succeeded",
    "payments.disputes.dispute_apply": "dispute.opened",
    "payments.saved_methods.saved_method_from_setup_intent": "payment_method.saved",
    "payments.saved_methods.saved_method_remove": "payment_method.removed",
    "payments.autorenew.line_auto_renew_set": "line.auto_renew_on",
    "payments.autorenew.renewal_charge_off_session": "payment.started",
    # Partner wallets
    "payments.wallet.wallet_top_up": "wallet.topped_up",
    "payments.wallet.wallet_pay_renewal": "payment.recorded",
    "payments.wallet.wallet_refund_credit": "wallet.credited",
    # Failed-payment follow-up
    "payments.dunning.case_record_failure": "dunning.opened",
    "payments.dunning.case_note_declined_attempt": "dunning.attempt_failed",
    "payments.dunning.cases_recover": "dunning.recovered",
    "payments.dunning.case_write_off": "dunning.written_off",
    "payments.dunning.case_cancel": "dunning.cancelled",
    "payments.followup.case_payment_link_send": "dunning.link_sent",
    "payments.followup.case_note_add": "dunning.note_added",
    "payments.followup.case_contact_record": "dunning.contact_recorded",
    "payments.dunning.grace_end_run": "line.auto_renew_off",
    # Partner API: the keys partners and staff tools call with
    "api.keys.api_key_issue": "api_key.issued",
    "api.keys.api_key_revoke": "api_key.revoked",
    # Webhooks to partners: endpoints and their secrets, manual resends
    "webhooks.endpoints.webhook_endpoint_create": "webhook_endpoint.created",
    "webhooks.endpoints.webhook_endpoint_rotate_secret": "webhook_endpoint.secret_rotated",
    "webhooks.delivery.webhook_delivery_resend": "webhook.resent",
    # Staff edits through the admin's change forms
    "reseller.admin_tools.AuditedAdmin.save_model": "partner.changed",
    "reseller.admin_tools.AuditedAdmin.save_formset": "price.changed",
    "reseller.admin_tools.AuditedAdmin.delete_model": "partner.deleted",
    "reseller.admin_tools.AuditedAdmin.delete_queryset": "partner.deleted",
}
