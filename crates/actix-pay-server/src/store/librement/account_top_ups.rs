//! Money added to an account with no purchase (`/librement/account/top-up`): an ordinary gateway payment
//! linked to the user in `librement_account_top_ups`. Inside the core's apply transaction, an accepted one
//! is posted to the account (`topup:{payment}`) with the buyer's receipt; a refund or chargeback is taken
//! back as for any top-up ([`super::reversal`]). It emits no events of its own: shops have nothing to do
//! with it.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use librement_pay::ledger::{NewTransaction, UserId};
use librement_pay::mail::{Receipt, receipt};
use payment_buttons::diesel::{AnyConnection, Tx, db_time};
use payment_buttons::event::Event;
use payment_buttons::money::Money;
use payment_buttons::notification::Outcome;
use payment_buttons::payment::{PaymentId, PaymentState};
use payment_buttons::transition::ApplyRequest;

use super::earnings::user_email;
use super::mail_queue::enqueue_in;
use super::schema::librement_account_top_ups as links;
use super::{LFail, post_in, reversal};

/// Links the gateway payment `payment` to `user`'s account.
pub(super) fn link(conn: &mut AnyConnection, payment: &str, user: UserId, now: NaiveDateTime) -> Result<(), LFail> {
    diesel::insert_into(links::table)
        .values((
            links::payment_id.eq(payment),
            links::user_id.eq(user),
            links::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// The top-up `payment_id` of `user` moved from `previous` to `state`: posts it, takes it back, or gives
/// it back. Returns no events (the top-up's own are not written either).
pub(super) fn applied(
    tx: &mut Tx<'_>,
    payment_id: &PaymentId,
    user: UserId,
    previous: PaymentState,
    state: PaymentState,
    request: &ApplyRequest,
) -> Result<Vec<Event>, LFail> {
    let (message_id, now) = (request.message_id(), request.now());
    // Decided by what the message says, not by the state alone: a partial refund or reversal leaves the
    // top-up `accepted`, as its first payment did.
    match (&request.notification().outcome, previous, state) {
        (Some(Outcome::Refunded { amount }), _, _) => {
            reversal::take_back(tx, payment_id, None, Some(user), *amount, message_id, now)?;
        }
        (Some(Outcome::ReversalCancelled { .. }), _, _) => {
            reversal::give_back(tx, payment_id, None, message_id, now)?;
        }
        (_, previous, PaymentState::Accepted) if previous != PaymentState::Accepted => {
            accepted(tx, payment_id, user, now)?
        }
        _ => {}
    }
    Ok(Vec::new())
}

fn accepted(tx: &mut Tx<'_>, payment_id: &PaymentId, user: UserId, now: DateTime<Utc>) -> Result<(), LFail> {
    let top_up = tx
        .payment(payment_id)?
        .ok_or_else(|| LFail::Db("the top-up is missing".into()))?;
    let conn = tx.conn();
    let key = format!("topup:{payment_id}");
    post_in(
        conn,
        &NewTransaction::top_up(key, user, &top_up.gateway, top_up.amount)?,
        db_time(now),
    )?;
    if let Some(to) = user_email(conn, user)? {
        let mail = receipt(
            &to,
            &Receipt {
                payment_id: payment_id.as_str(),
                description: None,
                order_reference: None,
                seller: None,
                amount: top_up.amount,
                from_balance: None,
                by_gateway: Some((&top_up.gateway, top_up.amount)),
                language: top_up.button.language().as_str(),
            },
        );
        enqueue_in(conn, &mail, now)?;
    }
    Ok(())
}

/// What of `amount` a top-up of `top_up` leaves for the balance: the part of a purchase not paid by it.
pub(super) fn from_balance(purchase: Money, top_up: Money) -> Option<Money> {
    let rest = purchase.minor_units() - top_up.minor_units();
    (rest > 0).then(|| Money::from_minor(rest, purchase.currency()))
}
