//! Feature `testing`: the bank played in an application's tests: the return it posts about a hand-off,
//! sealed with the merchant key of the application's own gateway.

use super::CmcicGateway;
use super::CmcicMode;
use crate::payment::PaymentId;
use crate::testing::{Confirmation, HandOffForm};
use crate::urlencoded::FormFields;

/// The server-to-server return the bank posts to `/notify/cmcic` about a hand-off: the payment form's
/// `TPE`, `montant`, `reference` and `texte-libre`, the outcome you choose, card facts, sealed by
/// `gateway` (`payetest` instead of `paiement` when the gateway is in `test` mode, as the bank's test
/// server answers).
///
/// ```
/// use payment_buttons::cmcic::{CmcicConfig, CmcicGateway, CmcicMode, UsableKey, testing::CmcicReturn};
/// use payment_buttons::gateway::Gateway;
/// use payment_buttons::testing::{Confirmation, HandOffForm};
/// let key = UsableKey::from_merchant_key("1036DEFD9175F29EE9337A1F284BDF781D5A4048").unwrap();
/// let gateway = CmcicGateway::new(CmcicConfig::new(CmcicMode::Simulator, "1234567", key, "monSite1").unwrap());
/// let form = HandOffForm::from_fields("https://p.monetico-services.com/paiement.cgi", [
///     ("TPE", "1234567"), ("montant", "12.50EUR"), ("reference", "Xk3f9QpL2mZa"), ("texte-libre", "ORDER-1"),
/// ]);
/// let body = CmcicReturn::accepted(&gateway).body_for(&form);
/// let message = payment_buttons::gateway::IncomingMessage {
///     received_at: chrono::Utc::now(), remote_addr: None, method: "POST".into(),
///     content_type: Some("application/x-www-form-urlencoded".into()), body, headers: Default::default(),
/// };
/// assert_eq!(gateway.acknowledge(&message).body, b"version=2\ncdr=0\n");
/// ```
#[derive(Debug, Clone)]
pub struct CmcicReturn<'a> {
    gateway: &'a CmcicGateway,
    accepted: bool,
    extra: Vec<(String, String)>,
}

impl<'a> CmcicReturn<'a> {
    /// The bank accepted the payment (`paiement`, or `payetest` in test mode).
    pub fn accepted(gateway: &'a CmcicGateway) -> Self {
        CmcicReturn {
            gateway,
            accepted: true,
            extra: Vec::new(),
        }
    }

    /// The bank refused it (`Annulation`, `motifrefus=Refus`).
    pub fn declined(gateway: &'a CmcicGateway) -> Self {
        CmcicReturn {
            accepted: false,
            ..Self::accepted(gateway)
        }
    }

    /// Sets (or adds) a field before sealing: another `montant` to test the checks, fraud fields...
    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.extra.retain(|(n, _)| n != name);
        self.extra.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The return's fields before sealing, in the order the bank posts them.
    pub fn fields_for(&self, hand_off: &HandOffForm) -> Vec<(String, String)> {
        let form = |name: &str| hand_off.field(name).unwrap_or_default().to_owned();
        let code = match (self.accepted, self.gateway.config().mode()) {
            (true, CmcicMode::Test) => "payetest",
            (true, _) => "paiement",
            (false, _) => "Annulation",
        };
        let mut fields: Vec<(String, String)> = vec![
            ("TPE".into(), form("TPE")),
            ("date".into(), "26/11/2026_a_10:00:03".into()),
            ("montant".into(), form("montant")),
            ("reference".into(), form("reference")),
            ("texte-libre".into(), form("texte-libre")),
            ("code-retour".into(), code.into()),
            ("cvx".into(), "oui".into()),
            ("vld".into(), "1230".into()),
            ("brand".into(), "VI".into()),
            ("status3ds".into(), "-1".into()),
            ("numauto".into(), if self.accepted { "010101" } else { "" }.into()),
            ("motifrefus".into(), if self.accepted { "" } else { "Refus" }.into()),
            ("originecb".into(), "FRA".into()),
            ("bincb".into(), "497010".into()),
            ("hpancb".into(), "764AD24CFABBB818DE3A4B0C2A8C0A1B8D3B2F01".into()),
            ("ipclient".into(), "192.0.2.30".into()),
            ("originetr".into(), "FRA".into()),
            ("veres".into(), String::new()),
            ("pares".into(), String::new()),
            ("modepaiement".into(), "CB".into()),
        ];
        for (name, value) in &self.extra {
            match fields.iter_mut().find(|(n, _)| n == name) {
                Some(field) => field.1 = value.clone(),
                None => fields.push((name.clone(), value.clone())),
            }
        }
        fields
    }
}

impl Confirmation for CmcicReturn<'_> {
    fn gateway(&self) -> &'static str {
        super::NAME
    }

    fn payment_id(&self, hand_off: &HandOffForm) -> Option<PaymentId> {
        hand_off.field("reference").and_then(|id| PaymentId::parse(id).ok())
    }

    fn body_for(&self, hand_off: &HandOffForm) -> Vec<u8> {
        let mut form = FormFields::new();
        for (name, value) in self.fields_for(hand_off) {
            form.push(name, value);
        }
        super::verify::sealed_return_body(self.gateway.config(), form)
    }
}
