//! What a decoded IPN means: its `txn_type` and `payment_status` mapped to a gateway-independent
//! [`Notification`], or the reason it changes nothing.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::money::Money;
use crate::notification::{Flag, Notification, Outcome, SubscriptionRef, Target};

use super::date::parse_paypal_date;

/// Fields copied into the event `details` when present. Payer names, e-mail and address are the buyer's
/// personal data and stay in the log only.
const DETAIL_FIELDS: &[&str] = &[
    "payment_status",
    "pending_reason",
    "reason_code",
    "txn_type",
    "payment_type",
    "payer_id",
    "payer_status",
    "parent_txn_id",
    "subscr_id",
    "mc_fee",
];

/// The meaning of a genuine IPN.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // One per message, built and consumed once: a box would buy nothing.
pub(crate) enum Interpretation {
    /// Something to apply (possibly with no outcome, such as a sign-up).
    Notification(Notification),
    /// Nothing this library acts on.
    Ignored {
        /// Why.
        reason: String,
        /// Flags for the log.
        flags: Vec<Flag>,
    },
    /// Genuine but unusable: a field the meaning depends on is missing or unreadable.
    Unusable {
        /// Why.
        reason: String,
        /// Flags for the log.
        flags: Vec<Flag>,
    },
}

/// How a payment status bears on the payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StatusKind {
    Accepted,
    Pending,
    Declined,
    Refunded,
    ReversalCancelled,
}

fn status_kind(payment_status: &str) -> Option<StatusKind> {
    match payment_status {
        "Completed" => Some(StatusKind::Accepted),
        "Canceled_Reversal" => Some(StatusKind::ReversalCancelled),
        "Pending" | "Created" | "Processed" => Some(StatusKind::Pending),
        "Denied" | "Declined" | "Failed" | "Expired" | "Voided" => Some(StatusKind::Declined),
        "Refunded" | "Reversed" => Some(StatusKind::Refunded),
        _ => None,
    }
}

/// Reads the fields of one message. `inherited` are the flags found while decoding; `live` says the
/// gateway is in live mode, where a test message must not count.
pub(crate) fn interpret(fields: &BTreeMap<String, String>, inherited: &[Flag], live: bool) -> Interpretation {
    let reader = Reader {
        fields,
        flags: inherited.to_vec(),
    };
    reader.interpret(live)
}

struct Reader<'a> {
    fields: &'a BTreeMap<String, String>,
    flags: Vec<Flag>,
}

impl Reader<'_> {
    /// A field's value, when present and not empty.
    fn get(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    fn flag(&mut self, flag: Flag) {
        if !self.flags.contains(&flag) {
            self.flags.push(flag);
        }
    }

    fn interpret(mut self, live: bool) -> Interpretation {
        let test = self.get("test_ipn") == Some("1");
        if test && live {
            self.flag(Flag::TestInLive);
        }
        let txn_type = self.get("txn_type").map(str::to_owned);
        match txn_type.as_deref() {
            None | Some("web_accept" | "express_checkout" | "cart") => self.payment(txn_type.as_deref(), test),
            Some("subscr_payment") => self.subscription_payment(test),
            Some("subscr_failed") => self.subscription_failed(test),
            Some(kind @ ("subscr_signup" | "subscr_modify")) => self.subscription_record(kind, test),
            Some(kind @ ("subscr_cancel" | "subscr_eot")) => self.subscription_end(kind, test),
            Some(other) => {
                self.flag(Flag::UnknownType);
                let reason = format!("txn_type {} is not handled", shorten(other));
                Interpretation::Ignored {
                    reason,
                    flags: self.flags,
                }
            }
        }
    }

    /// A one-off payment, or a refund or reversal (those come without `txn_type`).
    fn payment(mut self, txn_type: Option<&str>, test: bool) -> Interpretation {
        let Some(status) = self.get("payment_status").map(str::to_owned) else {
            return match txn_type {
                Some(kind) => {
                    self.flag(Flag::UnknownStatus);
                    let reason = format!("{kind} without payment_status");
                    Interpretation::Ignored {
                        reason,
                        flags: self.flags,
                    }
                }
                None => {
                    self.flag(Flag::UnknownType);
                    let reason = "neither txn_type nor payment_status".to_owned();
                    Interpretation::Ignored {
                        reason,
                        flags: self.flags,
                    }
                }
            };
        };
        let summary = match txn_type {
            Some(kind) => format!("{kind} {status}"),
            None => status.clone(),
        };
        self.with_status(Target::Payment, &status, summary, test)
    }

    fn subscription_payment(mut self, test: bool) -> Interpretation {
        if self.get("subscr_id").is_none() {
            return self.unusable("subscr_payment without subscr_id");
        }
        let Some(status) = self.get("payment_status").map(str::to_owned) else {
            self.flag(Flag::UnknownStatus);
            let reason = "subscr_payment without payment_status".to_owned();
            return Interpretation::Ignored {
                reason,
                flags: self.flags,
            };
        };
        let summary = format!("subscr_payment {status}");
        self.with_status(Target::SubscriptionCycle, &status, summary, test)
    }

    /// A message whose outcome comes from `payment_status`, keyed by `(txn_id, payment_status)`.
    fn with_status(mut self, target: Target, status: &str, summary: String, test: bool) -> Interpretation {
        let Some(kind) = status_kind(status) else {
            self.flag(Flag::UnknownStatus);
            let reason = format!("payment_status {} is not handled", shorten(status));
            return Interpretation::Ignored {
                reason,
                flags: self.flags,
            };
        };
        let Some(txn_id) = self.get("txn_id").map(str::to_owned) else {
            return self.unusable("txn_id is missing");
        };
        let amount = match self.money("mc_gross", "mc_currency") {
            Ok(amount) => amount,
            Err(reason) => return self.unusable(&reason),
        };
        // A refund, reversal or cancelled reversal names the original transaction in `parent_txn_id`: that is
        // the payment it concerns. For a subscription, the parent may be a later cycle, a payment of its own.
        let (target, gateway_reference) = match self.get("parent_txn_id").map(str::to_owned) {
            Some(parent) if self.get("subscr_id").is_some() => (Target::SubscriptionCycle, parent),
            Some(parent) => (target, parent),
            None => (target, txn_id.clone()),
        };
        let outcome = match kind {
            StatusKind::Accepted => Outcome::Accepted,
            StatusKind::Pending => Outcome::Pending,
            StatusKind::Declined => Outcome::Declined,
            StatusKind::Refunded => Outcome::Refunded {
                amount: Some(amount.abs()),
            },
            StatusKind::ReversalCancelled => Outcome::ReversalCancelled {
                amount: Some(amount.abs()),
            },
        };
        // Money of a subscription (its cycles' payments, their refunds) names the subscription; only a
        // cycle's payment may be the first to record it.
        let records = matches!(kind, StatusKind::Accepted | StatusKind::Pending) && target == Target::SubscriptionCycle;
        let subscription = self.subscription(records);
        Interpretation::Notification(Notification {
            payment_ref: self.get("invoice").map(str::to_owned),
            target,
            outcome: Some(outcome),
            idempotency_key: format!("{txn_id}:{status}"),
            gateway_reference: Some(gateway_reference),
            subscription,
            amount: Some(amount),
            receiver: self.receiver(),
            test,
            details: self.details(),
            flags: self.flags,
            summary,
        })
    }

    /// A failed subscription cycle: no `txn_id`, so the message's own track id identifies it.
    fn subscription_failed(mut self, test: bool) -> Interpretation {
        let Some(id) = self
            .get("ipn_track_id")
            .or_else(|| self.get("txn_id"))
            .map(str::to_owned)
        else {
            return self.unusable("subscr_failed without ipn_track_id or txn_id");
        };
        let Some(subscription) = self.subscription(false) else {
            return self.unusable("subscr_failed without subscr_id");
        };
        let amount = self.optional_money("mc_gross", "mc_currency");
        Interpretation::Notification(Notification {
            payment_ref: self.get("invoice").map(str::to_owned),
            target: Target::SubscriptionCycle,
            outcome: Some(Outcome::Declined),
            idempotency_key: format!("subscr_failed:{id}"),
            gateway_reference: self.get("txn_id").map(str::to_owned),
            subscription: Some(subscription),
            amount,
            receiver: self.receiver(),
            test,
            details: self.details(),
            summary: "subscr_failed".to_owned(),
            flags: self.flags,
        })
    }

    /// A sign-up or a modification: recorded against the payment, no state change.
    fn subscription_record(mut self, kind: &str, test: bool) -> Interpretation {
        let Some(subscr_id) = self.get("subscr_id").map(str::to_owned) else {
            return self.unusable(&format!("{kind} without subscr_id"));
        };
        // A subscription has one sign-up, but may be modified several times.
        let idempotency_key = match (kind, self.get("ipn_track_id")) {
            ("subscr_modify", Some(track)) => format!("subscr_modify:{subscr_id}:{track}"),
            _ => format!("{kind}:{subscr_id}"),
        };
        let amount = self.optional_money("mc_amount3", "mc_currency");
        Interpretation::Notification(Notification {
            payment_ref: self.get("invoice").map(str::to_owned),
            target: Target::Payment,
            outcome: None,
            idempotency_key,
            gateway_reference: None,
            subscription: Some(SubscriptionRef {
                id: subscr_id.clone(),
                may_record: kind == "subscr_signup",
            }),
            amount,
            receiver: self.receiver(),
            test,
            details: self.details(),
            summary: format!("{kind} {subscr_id}"),
            flags: self.flags,
        })
    }

    /// A cancellation or the end of term.
    fn subscription_end(self, kind: &str, test: bool) -> Interpretation {
        let Some(subscr_id) = self.get("subscr_id").map(str::to_owned) else {
            return self.unusable(&format!("{kind} without subscr_id"));
        };
        Interpretation::Notification(Notification {
            payment_ref: self.get("invoice").map(str::to_owned),
            target: Target::Payment,
            outcome: Some(Outcome::SubscriptionCancelled),
            idempotency_key: format!("{kind}:{subscr_id}"),
            gateway_reference: None,
            subscription: Some(SubscriptionRef {
                id: subscr_id.clone(),
                may_record: false,
            }),
            amount: None,
            receiver: self.receiver(),
            test,
            details: self.details(),
            summary: format!("{kind} {subscr_id}"),
            flags: self.flags,
        })
    }

    /// The subscription the message names (`subscr_id`), when it names one.
    fn subscription(&self, may_record: bool) -> Option<SubscriptionRef> {
        self.get("subscr_id").map(|id| SubscriptionRef {
            id: id.to_owned(),
            may_record,
        })
    }

    fn unusable(mut self, reason: &str) -> Interpretation {
        self.flag(Flag::MalformedField);
        Interpretation::Unusable {
            reason: reason.to_owned(),
            flags: self.flags,
        }
    }

    /// A required amount: the message is useless without it.
    fn money(&self, amount_field: &str, currency_field: &str) -> Result<Money, String> {
        let amount = self
            .get(amount_field)
            .ok_or_else(|| format!("{amount_field} is missing"))?;
        let currency = self
            .get(currency_field)
            .ok_or_else(|| format!("{currency_field} is missing"))?;
        Money::parse(amount, currency).map_err(|e| format!("{amount_field}/{currency_field}: {e}"))
    }

    /// An informative amount: flagged when present but unreadable.
    fn optional_money(&mut self, amount_field: &str, currency_field: &str) -> Option<Money> {
        self.get(amount_field)?;
        let amount = self.money(amount_field, currency_field).ok();
        if amount.is_none() {
            self.flag(Flag::MalformedField);
        }
        amount
    }

    fn receiver(&self) -> Option<String> {
        self.get("receiver_email")
            .or_else(|| self.get("business"))
            .map(str::to_owned)
    }

    fn details(&self) -> Map<String, Value> {
        let mut details: Map<String, Value> = DETAIL_FIELDS
            .iter()
            .filter_map(|name| {
                self.get(name)
                    .map(|value| ((*name).to_owned(), Value::String(value.to_owned())))
            })
            .collect();
        if let Some(date) = self.get("payment_date").and_then(parse_paypal_date) {
            details.insert("payment_date".to_owned(), Value::String(date.to_rfc3339()));
        }
        details
    }
}

/// Gateway-supplied text in log reasons, bounded.
fn shorten(value: &str) -> String {
    value.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn notification(i: Interpretation) -> Notification {
        match i {
            Interpretation::Notification(n) => n,
            other => panic!("expected a notification, got {other:?}"),
        }
    }

    const PAID: &[(&str, &str)] = &[
        ("txn_type", "web_accept"),
        ("txn_id", "4RT73920XK118345L"),
        ("mc_gross", "25.00"),
        ("mc_currency", "EUR"),
        ("invoice", "Xk3f9QpL2mZa"),
        ("receiver_email", "merchant@example.com"),
    ];

    fn with(status: &str) -> BTreeMap<String, String> {
        let mut f = fields(PAID);
        f.insert("payment_status".into(), status.into());
        f
    }

    #[test]
    fn each_documented_status_has_its_outcome() {
        let cases = [
            ("Completed", Outcome::Accepted),
            (
                "Canceled_Reversal",
                Outcome::ReversalCancelled {
                    amount: Some(Money::parse("25.00", "EUR").unwrap()),
                },
            ),
            ("Pending", Outcome::Pending),
            ("Created", Outcome::Pending),
            ("Processed", Outcome::Pending),
            ("Denied", Outcome::Declined),
            ("Declined", Outcome::Declined),
            ("Failed", Outcome::Declined),
            ("Expired", Outcome::Declined),
            ("Voided", Outcome::Declined),
        ];
        for (status, expected) in cases {
            let n = notification(interpret(&with(status), &[], false));
            assert_eq!(n.outcome, Some(expected), "{status}");
            assert_eq!(n.idempotency_key, format!("4RT73920XK118345L:{status}"));
        }
    }

    #[test]
    fn a_reversal_refunds_the_absolute_amount() {
        let mut f = with("Reversed");
        f.insert("mc_gross".into(), "-7.50".into());
        f.insert("reason_code".into(), "chargeback".into());
        let n = notification(interpret(&f, &[], false));
        let refunded = Money::parse("7.50", "EUR").unwrap();
        assert_eq!(n.outcome, Some(Outcome::Refunded { amount: Some(refunded) }));
        assert_eq!(n.details["reason_code"], "chargeback");
    }

    #[test]
    fn a_completed_payment_without_amount_is_unusable() {
        let mut f = with("Completed");
        f.remove("mc_gross");
        let Interpretation::Unusable { flags, reason, .. } = interpret(&f, &[], false) else {
            panic!()
        };
        assert_eq!(flags, vec![Flag::MalformedField]);
        assert!(reason.contains("mc_gross"), "{reason}");
    }

    #[test]
    fn a_payment_without_txn_id_is_unusable() {
        let mut f = with("Completed");
        f.remove("txn_id");
        assert!(matches!(interpret(&f, &[], false), Interpretation::Unusable { .. }));
    }

    #[test]
    fn test_messages_are_flagged_only_in_live_mode() {
        let mut f = with("Completed");
        f.insert("test_ipn".into(), "1".into());
        let live = notification(interpret(&f, &[], true));
        assert!(live.test);
        assert_eq!(live.flags, vec![Flag::TestInLive]);
        let sandbox = notification(interpret(&f, &[], false));
        assert!(sandbox.test);
        assert!(sandbox.flags.is_empty());
    }

    #[test]
    fn receiver_falls_back_to_business() {
        let mut f = with("Completed");
        f.remove("receiver_email");
        f.insert("business".into(), "Merchant@Example.com".into());
        assert_eq!(
            notification(interpret(&f, &[], false)).receiver.as_deref(),
            Some("Merchant@Example.com")
        );
    }

    #[test]
    fn details_leave_out_the_buyers_personal_data() {
        let mut f = with("Completed");
        for (k, v) in [
            ("payer_email", "buyer@example.net"),
            ("first_name", "Zoé"),
            ("address_street", "12 rue"),
        ] {
            f.insert(k.into(), v.into());
        }
        f.insert("payer_id".into(), "B7XK2L9QW4RTY".into());
        let details = notification(interpret(&f, &[], false)).details;
        assert_eq!(details["payer_id"], "B7XK2L9QW4RTY");
        let text = serde_json::to_string(&details).unwrap();
        for private in ["buyer@example.net", "Zoé", "12 rue"] {
            assert!(!text.contains(private), "{text}");
        }
    }

    #[test]
    fn a_subscription_modification_is_recorded_without_outcome() {
        let f = fields(&[
            ("txn_type", "subscr_modify"),
            ("subscr_id", "I-4WJ9TNR2KQ7B"),
            ("ipn_track_id", "abc123"),
        ]);
        let n = notification(interpret(&f, &[], false));
        assert_eq!(n.outcome, None);
        assert_eq!(n.idempotency_key, "subscr_modify:I-4WJ9TNR2KQ7B:abc123");
    }

    #[test]
    fn an_unreadable_failed_amount_is_flagged_but_the_failure_counts() {
        let f = fields(&[
            ("txn_type", "subscr_failed"),
            ("subscr_id", "I-4WJ9TNR2KQ7B"),
            ("ipn_track_id", "e3f4"),
            ("mc_gross", "9,99"),
            ("mc_currency", "EUR"),
        ]);
        let n = notification(interpret(&f, &[], false));
        assert_eq!(n.outcome, Some(Outcome::Declined));
        assert_eq!(n.amount, None);
        assert_eq!(n.flags, vec![Flag::MalformedField]);
    }

    #[test]
    fn every_subscription_message_must_name_its_subscription() {
        for kind in [
            "subscr_payment",
            "subscr_failed",
            "subscr_signup",
            "subscr_modify",
            "subscr_cancel",
            "subscr_eot",
        ] {
            let mut f = with("Completed");
            f.insert("txn_type".into(), kind.into());
            f.insert("ipn_track_id".into(), "e3f4".into());
            assert!(
                matches!(interpret(&f, &[], false), Interpretation::Unusable { .. }),
                "{kind} without subscr_id"
            );
            f.insert("subscr_id".into(), "I-4WJ9TNR2KQ7B".into());
            let n = notification(interpret(&f, &[], false));
            let sub = n.subscription.expect("the subscription it names");
            assert_eq!(sub.id, "I-4WJ9TNR2KQ7B");
            assert_eq!(
                sub.may_record,
                matches!(kind, "subscr_payment" | "subscr_signup"),
                "{kind}"
            );
        }
    }

    #[test]
    fn a_one_off_payment_names_no_subscription() {
        assert_eq!(
            notification(interpret(&with("Completed"), &[], false)).subscription,
            None
        );
    }

    #[test]
    fn decode_flags_are_kept() {
        let n = notification(interpret(&with("Completed"), &[Flag::UnknownCharset], false));
        assert_eq!(n.flags, vec![Flag::UnknownCharset]);
    }
}
