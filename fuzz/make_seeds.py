#!/usr/bin/env python3
"""Writes the committed seed corpora of the fuzz targets (fuzz/corpus/<target>/) from the test fixtures.

Run from the repository root: `python3 fuzz/make_seeds.py`. Every seed is a real message or value from
`crates/payment-buttons/tests/fixtures` (copies of the shared protocol vectors) or from the crates' tests
and documentation, framed as the target reads it (see each target's header comment). Re-running it
rewrites the same files; fuzzing adds its discoveries under fuzz/corpus too, and only these seeds are
committed (see fuzz/README.md).
"""

import base64
import hashlib
import hmac
import json
import pathlib
import urllib.parse

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "crates/payment-buttons/tests/fixtures"
CORPUS = ROOT / "fuzz/corpus"
SECRET = b"fuzzing secret, never used anywhere else"  # librement_pay_fuzz::SECRET
NOW = 1_800_000_000  # librement_pay_fuzz::now()

# ipn_decode's LABELS (selector n = LABELS[n - 1]); only the ones the seeds use.
IPN_LABELS = {"UTF-8": 26, "windows-1252": 40, "Shift_JIS": 24, "KOI8-R": 23, "ISO-8859-1": 12}

BUTTONS = [
    # crates/payment-buttons/tests/paypal_form.rs
    {"order_reference": "ORDER-1042", "language": "en",
     "options": [{"description": "Manual, PDF", "amount": "12.5", "currency": "EUR", "custom": {"sku": "MAN-PDF"}}],
     "payment_options": {"paypal": {"paypal_email": "seller@example.com"}},
     "urls": {"back": "https://shop.example/cart", "accepted": "https://shop.example/thanks",
              "declined": "https://shop.example/sorry"}},
    {"order_reference": "ORDER-1042", "language": "fr",
     "options": [{"description": "Monthly plan", "amount": "9.99", "currency": "EUR", "recurrence_months": 1},
                 {"description": "Quarterly plan", "amount": "27", "currency": "EUR", "recurrence_months": 3}],
     "payment_options": {"paypal": {}},
     "urls": {"back": "https://shop.example/cart", "accepted": "https://shop.example/thanks",
              "declined": "https://shop.example/sorry"}},
    # crates/payment-buttons/tests/cmcic_gateway.rs (with billing)
    {"order_reference": "ORDER-1042 café", "email": "shop-knows@example.org", "language": "fr",
     "options": [{"description": "Manual, PDF", "amount": "12.5", "currency": "EUR"}],
     "payment_options": {"cmcic": {"billing": {"address_line1": "3 rue de l'Église", "city": "Orléans",
                                               "postal_code": "45000", "country": "FR"}}, "librement": {}},
     "urls": {"back": "https://shop.example/cart", "accepted": "https://shop.example/thanks",
              "declined": "https://shop.example/sorry"}},
    # crates/payment-buttons/tests/tera_snapshots.rs
    {"order_date": "2026-11-26T10:00:00Z", "order_reference": "R", "language": "fr",
     "text": "Acheter \"maintenant\"", "image_url": "https://shop.example/button.png",
     "options": [{"description": "Livre", "amount": "9.9", "currency": "EUR"},
                 {"description": "Yen", "amount": "1000", "currency": "JPY"},
                 {"description": "Dinar", "amount": "0.125", "currency": "TND"}],
     "payment_options": {"paypal": {}, "cmcic": None},
     "urls": {"back": "https://s.example/", "accepted": "https://s.example/ok", "declined": "https://s.example/ko"}},
]


def write(target, name, data):
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


def ipn_seeds():
    for path in sorted((FIXTURES / "paypal-ipn").glob("*.txt")):
        body = path.read_bytes().strip()
        write("ipn_decode", path.stem, b"\x00" + body)
    win1252 = (FIXTURES / "paypal-ipn/dp-01-express_checkout-completed-win1252.txt").read_bytes().strip()
    for label, selector in IPN_LABELS.items():
        write("ipn_decode", f"dp-01-as-{label}", bytes([selector]) + win1252)


def form_body(fields, encoding):
    pairs = []
    for name, value in fields:
        pairs.append(urllib.parse.quote_plus(name.encode(encoding), safe="-_.*") + "="
                     + urllib.parse.quote_plus(value.encode(encoding), safe="-_.*"))
    return "&".join(pairs).encode()


def cmcic_seeds():
    vectors = json.loads((FIXTURES / "monetico/vectors.json").read_text())
    for case in vectors:
        if case["kind"] not in ("return", "request"):
            continue
        encoding = "latin-1" if "8859" in case["mac_input_encoding"].lower() or "latin" in case[
            "mac_input_encoding"].lower() else "utf-8"
        fields = list(case["fields"].items()) + list(case.get("posted_but_not_in_mac", {}).items())
        fields.append(("MAC", case["expected_mac"].upper()))
        legacy = case["generation"].startswith("legacy")
        # A request posted to /notify/cmcic is the "request seal as a return" attack: keep it as a seed.
        write("cmcic_message", case["id"], bytes([1 if legacy else 0]) + form_body(fields, encoding))


def money_seeds():
    amounts = ["12.50", "12.5", "1000", "0.125", "-3.10", "62.73", "1234567.89", "10.00", "0.01",
               "12.4999999999999999999999999999999", "1e3", "79228162514264337593543950335"]
    # money_parse's CODES: EUR=0, USD=1, JPY=2, TND=3; 10 = the code is the text's first three characters.
    for i, amount in enumerate(amounts):
        selector = [0, 0, 2, 3, 1, 0, 1, 0, 0, 0, 0, 0][i]
        write("money_parse", f"amount-{i:02}", bytes([selector]) + amount.encode())
    write("money_parse", "montant-EUR", b"\x0aEUR62.73")
    write("money_parse", "montant-KWD", b"\x0aKWD1.005")


def button_json_seeds():
    for i, button in enumerate(BUTTONS):
        write("button_json", f"button-{i}", json.dumps(button, ensure_ascii=False, indent=1).encode())


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token_seeds():
    key = hmac.new(SECRET, b"payment-buttons/button-token/v1", hashlib.sha256).digest()
    for i, button in enumerate(BUTTONS):
        payload = json.dumps({"exp": NOW + 3600, "button": button}, separators=(",", ":")).encode()
        write("button_token", f"payload-{i}", b"\x01" + payload)
        signed = "v1." + b64url(payload)
        signature = hmac.new(key, signed.encode(), hashlib.sha256).digest()
        write("button_token", f"token-{i}", b"\x00" + f"{signed}.{b64url(signature)}".encode())
    write("button_token", "expired", b"\x01" + json.dumps({"exp": NOW - 1, "button": BUTTONS[0]}).encode())


def session_seeds():
    key = hmac.new(SECRET, b"librement session cookie", hashlib.sha256).digest()
    sessions = [
        {"u": None, "c": "Vb7Zh4JgEo_Fa1uUiKc9dRtMyP3AqT9c", "t": NOW - 60},
        {"u": 7, "c": "AqT9cTQ1xk3m8X0bDpL-5r6Yw2sNnVb7", "t": NOW - 10, "e": 2},
        {"u": 42, "c": "x", "t": NOW - 7 * 86400, "e": 0},
    ]
    for i, session in enumerate(sessions):
        payload = json.dumps(session, separators=(",", ":")).encode()
        write("session_cookie", f"payload-{i}", b"\x01" + payload)
        tag = hmac.new(key, payload, hashlib.sha256).digest()
        write("session_cookie", f"cookie-{i}", b"\x00" + f"{b64url(payload)}.{b64url(tag)}".encode())


def webhook_seeds():
    # The Standard Webhooks reference example (crates/payment-buttons/src/webhook/verify.rs).
    example = (b"msg_p5jXN8AQM9LWM0D4loKWxJek\n1614265330\n"
               b"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=\n{\"test\": 2432232314}")
    for selector in range(4):
        write("webhook_verify", f"reference-example-{selector}", bytes([selector]) + example)
    rotation = (b"evt_0123\n1614265330\nv1,AAAA v1a,xyz v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=\n"
                b"{\"id\":\"evt_0123\",\"type\":\"payment_accepted\"}")
    write("webhook_verify", "rotation", b"\x03" + rotation)
    write("webhook_verify", "secret", b"\x00whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n-5\nv1,\n")


if __name__ == "__main__":
    ipn_seeds()
    cmcic_seeds()
    money_seeds()
    button_json_seeds()
    token_seeds()
    session_seeds()
    webhook_seeds()
