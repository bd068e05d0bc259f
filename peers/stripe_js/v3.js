/*
 * Stripe.js v3 stand-in, served by the local Stripe peer at /js.stripe.com/v3/ (docs/stripe-peer.md).
 *
 * For tests and the offline demo only: it talks to the peer that served it, never to Stripe. It answers
 * the calls our pages make as Stripe.js does, with the same arguments and result shapes:
 *   Stripe(pk), elements().create("card"), element.mount/on/off/focus/blur/clear/unmount/destroy,
 *   createPaymentMethod, confirmCardPayment, confirmCardSetup, confirmAlipayPayment,
 *   confirmWechatPayPayment, handleCardAction, handleNextAction, retrievePaymentIntent,
 *   retrieveSetupIntent.
 * Like Stripe.js it sends `key=pk_…` and the intent's client_secret in form-encoded bodies (simple CORS
 * requests); the card fields are a plain form in the page (Stripe's live in an iframe), marked as the test
 * peer's; 3-D Secure and WeChat Pay's QR code are a dialog over the page; Alipay goes to the peer's page.
 */
(function () {
  "use strict";

  const script = document.currentScript;
  const PEER = script && /\/js\.stripe\.com\/v3\/?(?:[?#].*)?$/.test(script.src)
    ? script.src.replace(/\/js\.stripe\.com\/v3\/?(?:[?#].*)?$/, "")
    : new URL(script ? script.src : window.location.href).origin;
  const ACCENT = "#c026d3";  // the peer's colour: nobody mistakes its fields for Stripe's

  class IntegrationError extends Error {
    constructor(message) {
      super(message);
      this.name = "IntegrationError";
    }
  }

  // -- Talking to the peer ---------------------------------------------------------------------------

  // Stripe's form encoding: a[b]=c for objects, a[0]=c for lists.
  function formPairs(value, prefix, pairs) {
    if (value === undefined || value === null) return pairs;
    if (Array.isArray(value)) {
      value.forEach((item, index) => formPairs(item, `${prefix}[${index}]`, pairs));
    } else if (typeof value === "object") {
      Object.keys(value).forEach((key) => formPairs(value[key], prefix ? `${prefix}[${key}]` : key, pairs));
    } else {
      pairs.push([prefix, String(value)]);
    }
    return pairs;
  }

  async function call(method, path, params) {
    const form = new URLSearchParams(formPairs(params, "", []));
    let url = PEER + path;
    const init = {method, credentials: "omit"};
    if (method === "GET") url += "?" + form;
    else init.body = form;  // application/x-www-form-urlencoded: no preflight, as with Stripe.js
    let response;
    try {
      response = await fetch(url, init);
    } catch (failure) {
      return {error: {
        type: "api_connection_error",
        message: `An error occurred with our connection to the Stripe test peer at ${PEER}.`,
      }};
    }
    const body = await response.json().catch(() => ({}));
    if (!response.ok || body.error) {
      return {error: body.error || {type: "api_error", message: `The Stripe test peer answered ${response.status}.`}};
    }
    return {object: body};
  }

  function intentId(clientSecret, prefix, method) {
    const match = typeof clientSecret === "string" && clientSecret.match(new RegExp(`^(${prefix}_[A-Za-z0-9]+)_secret_`));
    if (!match) {
      throw new IntegrationError(`Invalid value for ${method}: the client secret should be a client_secret ` +
                                 `string of the form ${prefix}_..._secret_...`);
    }
    return match[1];
  }

  // -- The card Element ----------------------------------------------------------------------------

  const BRANDS = [
    [/^4/, "visa"], [/^(5[1-5]|2[2-7])/, "mastercard"], [/^3[47]/, "amex"], [/^3(0[0-5]|[689])/, "diners"],
    [/^(6011|64[4-9]|65)/, "discover"], [/^35/, "jcb"], [/^62/, "unionpay"],
  ];
  const NUMBER_LENGTH = {amex: 15, diners: 14};
  let elementsMade = 0;

  function digits(text) {
    return (text || "").replace(/\D/g, "");
  }

  function brandOf(number) {
    const found = BRANDS.find(([pattern]) => pattern.test(number));
    return found ? found[1] : "unknown";
  }

  function luhnValid(number) {
    let sum = 0;
    for (let i = 0; i < number.length; i++) {
      let digit = Number(number[number.length - 1 - i]);
      if (i % 2 === 1) digit = digit * 2 > 9 ? digit * 2 - 9 : digit * 2;
      sum += digit;
    }
    return sum % 10 === 0;
  }

  function validationError(code, message) {
    return {type: "validation_error", code, message};
  }

  function styled(tag, style, props) {
    const node = document.createElement(tag);
    Object.assign(node.style, style || {});
    Object.assign(node, props || {});
    return node;
  }

  class CardElement {
    constructor(group, options) {
      this._group = group;
      this._options = options || {};
      this._listeners = {};
      this._root = null;
      this._container = null;
      this._destroyed = false;
      this._n = ++elementsMade;
    }

    mount(target) {
      if (this._destroyed) {
        throw new IntegrationError("This Element has already been destroyed. Please create a new one.");
      }
      const container = typeof target === "string" ? document.querySelector(target) : target;
      if (!(container instanceof window.HTMLElement)) {
        throw new IntegrationError("Invalid DOM element. Make sure to call mount() with a valid DOM element or selector.");
      }
      if (this._root) {
        throw new IntegrationError("This Element is already mounted. Use `unmount()` to unmount the Element before re-mounting.");
      }
      this._build();
      container.appendChild(this._root);
      container.classList.add("StripeElement", "StripeElement--empty");
      this._container = container;
      setTimeout(() => this._emit("ready", {elementType: "card"}), 0);
    }

    _build() {
      const id = (field) => `stripe-peer-card-${this._n}-${field}`;
      const root = styled("div", {
        border: `1px dashed ${ACCENT}`, borderRadius: "6px", padding: "8px 10px 10px", background: "#fff",
        fontFamily: "system-ui, sans-serif", fontSize: "14px", color: "#1a1f36",
      });
      root.setAttribute("role", "group");
      root.setAttribute("aria-label", "Card details (Stripe test peer)");
      root.dataset.testid = "stripe-peer-card";
      root.className = "stripe-peer-card";
      const badge = styled("div", {
        display: "inline-block", background: ACCENT, color: "#fff", fontSize: "11px", fontWeight: "600",
        borderRadius: "3px", padding: "1px 6px", marginBottom: "6px",
      }, {textContent: "Stripe test peer — test cards only"});
      const row = styled("div", {display: "flex", gap: "8px", flexWrap: "wrap"});
      const field = (name, label, attributes, width) => {
        const wrapper = styled("div", {display: "flex", flexDirection: "column", flex: width});
        const labelNode = styled("label", {fontSize: "12px", color: "#4f566b", marginBottom: "2px"},
                                 {textContent: label, htmlFor: id(name)});
        const input = styled("input", {
          font: "inherit", padding: "6px 8px", border: "1px solid #c4c9d4", borderRadius: "4px", minWidth: "0",
        }, {id: id(name), type: "text", spellcheck: false});
        Object.entries(attributes).forEach(([key, value]) => input.setAttribute(key, value));
        input.dataset.testid = `card-${name}`;
        wrapper.append(labelNode, input);
        row.appendChild(wrapper);
        return input;
      };
      this._inputs = {
        number: field("number", "Card number",
                      {name: "cardnumber", autocomplete: "cc-number", inputmode: "numeric", placeholder: "1234 1234 1234 1234"},
                      "3 1 12em"),
        expiry: field("expiry", "Expiry (MM / YY)",
                      {name: "exp-date", autocomplete: "cc-exp", inputmode: "numeric", placeholder: "MM / YY"},
                      "1 1 6em"),
        cvc: field("cvc", "CVC", {name: "cvc", autocomplete: "cc-csc", inputmode: "numeric", placeholder: "CVC"},
                   "1 1 4em"),
      };
      this._inputs.number.addEventListener("input", () => this._format("number"));
      this._inputs.expiry.addEventListener("input", (event) => this._format("expiry", event));
      this._inputs.cvc.addEventListener("input", () => this._format("cvc"));
      Object.values(this._inputs).forEach((input) => {
        input.addEventListener("focus", () => {
          this._container && this._container.classList.add("StripeElement--focus");
          this._emit("focus", {elementType: "card"});
        });
        input.addEventListener("blur", () => {
          this._container && this._container.classList.remove("StripeElement--focus");
          this._emit("blur", {elementType: "card"});
        });
      });
      root.append(badge, row);
      this._root = root;
      if (this._options.disabled) this.update({disabled: true});
    }

    _format(name, event) {
      const input = this._inputs[name];
      if (name === "number") {
        const number = digits(input.value).slice(0, 19);
        input.value = number.replace(/(\d{4})(?=\d)/g, "$1 ");
      } else if (name === "expiry") {
        let value = digits(input.value).slice(0, 4);
        if (value.length === 1 && value > "1") value = "0" + value;  // "4" means April
        const deleting = event && event.inputType && event.inputType.startsWith("delete");
        input.value = value.length > 2 || (value.length === 2 && !deleting)
          ? `${value.slice(0, 2)} / ${value.slice(2)}` : value;
      } else {
        input.value = digits(input.value).slice(0, 4);
      }
      const state = this._state();
      const invalid = state.error && !state.error.code.startsWith("incomplete");
      this._container && this._container.classList.toggle("StripeElement--empty", state.empty);
      this._container && this._container.classList.toggle("StripeElement--complete", state.complete);
      this._container && this._container.classList.toggle("StripeElement--invalid", Boolean(invalid));
      Object.values(this._inputs).forEach((node) => node.removeAttribute("aria-invalid"));
      if (invalid) this._inputs[state.field].setAttribute("aria-invalid", "true");
      this._emit("change", {
        elementType: "card", empty: state.empty, complete: state.complete, brand: state.brand,
        // Stripe.js reports only errors the customer cannot fix by typing on.
        error: invalid ? state.error : undefined, value: {postalCode: ""},
      });
    }

    // What was typed, checked as Stripe.js checks it before anything is sent.
    _state() {
      const number = digits(this._inputs.number.value);
      const expiry = digits(this._inputs.expiry.value);
      const cvc = digits(this._inputs.cvc.value);
      const brand = brandOf(number);
      const state = {brand, empty: !number && !expiry && !cvc, complete: false, error: null, field: null,
                     card: {number, exp_month: expiry.slice(0, 2), exp_year: expiry.slice(2), cvc}};
      const fail = (field, code, message) => Object.assign(state, {field, error: validationError(code, message)});
      const length = NUMBER_LENGTH[brand] || 16;
      const now = new Date(), month = Number(expiry.slice(0, 2)), year = 2000 + Number(expiry.slice(2));
      if (number.length < length) fail("number", "incomplete_number", "Your card number is incomplete.");
      else if (number.length > (brand === "unknown" ? 19 : length) || !luhnValid(number)) {
        fail("number", "invalid_number", "Your card number is invalid.");
      } else if (expiry.length >= 2 && (month < 1 || month > 12)) {
        fail("expiry", "invalid_expiry_month", "Your card's expiration date is invalid.");
      } else if (expiry.length < 4) {
        fail("expiry", "incomplete_expiry", "Your card's expiration date is incomplete.");
      } else if (year < now.getFullYear()) {
        fail("expiry", "invalid_expiry_year_past", "Your card's expiration year is in the past.");
      } else if (year === now.getFullYear() && month < now.getMonth() + 1) {
        fail("expiry", "invalid_expiry_month_past", "Your card's expiration date is in the past.");
      } else if (cvc.length < (brand === "amex" ? 4 : 3)) {
        fail("cvc", "incomplete_cvc", "Your card's security code is incomplete.");
      }
      state.complete = !state.error;
      return state;
    }

    on(event, handler) {
      (this._listeners[event] = this._listeners[event] || []).push(handler);
      return this;
    }

    once(event, handler) {
      const wrapped = (payload) => {
        this.off(event, wrapped);
        handler(payload);
      };
      return this.on(event, wrapped);
    }

    off(event, handler) {
      this._listeners[event] = handler ? (this._listeners[event] || []).filter((h) => h !== handler) : [];
      return this;
    }

    _emit(event, payload) {
      (this._listeners[event] || []).slice().forEach((handler) => handler(payload));
    }

    focus() {
      this._inputs && this._inputs.number.focus();
    }

    blur() {
      if (this._inputs) Object.values(this._inputs).forEach((input) => input.blur());
    }

    clear() {
      if (!this._inputs) return;
      Object.values(this._inputs).forEach((input) => { input.value = ""; });
      this._format("cvc");
    }

    update(options) {
      Object.assign(this._options, options || {});
      if (this._inputs && "disabled" in (options || {})) {
        Object.values(this._inputs).forEach((input) => { input.disabled = Boolean(options.disabled); });
      }
    }

    unmount() {
      if (this._root) this._root.remove();
      if (this._container) {
        this._container.classList.remove("StripeElement", "StripeElement--empty", "StripeElement--complete",
                                         "StripeElement--invalid", "StripeElement--focus");
      }
      this._root = this._container = this._inputs = null;
    }

    destroy() {
      this.unmount();
      this._destroyed = true;
      this._group._forget(this);
    }
  }

  class Elements {
    constructor() {
      this._card = null;
    }

    create(type, options) {
      if (type !== "card") {
        throw new IntegrationError(`The Stripe test peer models the "card" Element only, not "${type}".`);
      }
      if (this._card) throw new IntegrationError("Can only create one Element of type card.");
      this._card = new CardElement(this, options);
      return this._card;
    }

    getElement(type) {
      return type === "card" ? this._card : null;
    }

    update() {}

    _forget(element) {
      if (this._card === element) this._card = null;
    }
  }

  // -- The customer's side of a next action: a dialog over the page ---------------------------------

  function displayAmount(intent) {
    if (intent.amount === undefined || !intent.currency) return "";
    const currency = intent.currency.toUpperCase();
    try {
      const format = new Intl.NumberFormat(undefined, {style: "currency", currency});
      const exponent = new Intl.NumberFormat("en", {style: "currency", currency}).resolvedOptions().maximumFractionDigits;
      return format.format(intent.amount / 10 ** exponent);
    } catch (unknownCurrency) {
      return `${intent.amount} ${currency} (minor units)`;
    }
  }

  // Resolves true (Complete / Authorize) or false (Fail).
  function customerDialog({heading, text, yes, intent, qrSrc}) {
    return new Promise((resolve) => {
      const overlay = styled("div", {
        position: "fixed", inset: "0", background: "rgba(26, 31, 54, .55)", display: "flex",
        alignItems: "center", justifyContent: "center", zIndex: "2147483647",
      });
      const box = styled("div", {
        background: "#fff", border: `2px dashed ${ACCENT}`, borderRadius: "8px", padding: "20px",
        width: "min(360px, 90vw)", fontFamily: "system-ui, sans-serif", color: "#1a1f36", textAlign: "center",
      });
      box.setAttribute("role", "dialog");
      box.setAttribute("aria-modal", "true");
      box.setAttribute("aria-labelledby", "stripe-peer-dialog-heading");
      box.dataset.testid = "stripe-peer-dialog";
      const badge = styled("div", {
        display: "inline-block", background: ACCENT, color: "#fff", fontSize: "11px", fontWeight: "600",
        borderRadius: "3px", padding: "1px 6px",
      }, {textContent: "Stripe test peer — no real payment"});
      const title = styled("h2", {fontSize: "18px", margin: "10px 0 4px"},
                           {id: "stripe-peer-dialog-heading", textContent: heading});
      const amount = styled("p", {fontWeight: "600", margin: "0 0 8px"}, {textContent: displayAmount(intent)});
      const parts = [badge, title, amount];
      if (qrSrc) {
        const qr = styled("img", {width: "198px", height: "198px", imageRendering: "pixelated"},
                          {src: qrSrc, alt: "Test QR code (not scannable)"});
        qr.dataset.testid = "stripe-peer-qr";
        parts.push(qr);
      }
      parts.push(styled("p", {fontSize: "14px"}, {textContent: text}));
      const buttons = styled("div", {display: "flex", gap: "10px", marginTop: "12px"});
      const choose = (success) => {
        overlay.remove();
        resolve(success);
      };
      [[yes, true, "stripe-peer-authorize"], ["Fail", false, "stripe-peer-fail"]].forEach(([label, success, testid]) => {
        const button = styled("button", {
          flex: "1", font: "inherit", padding: "8px", borderRadius: "6px", cursor: "pointer",
          border: `1px solid ${success ? "#635bff" : "#8792a2"}`, background: success ? "#635bff" : "#fff",
          color: success ? "#fff" : "#1a1f36",
        }, {type: "button", textContent: label});
        button.dataset.testid = testid;
        button.addEventListener("click", () => choose(success));
        buttons.appendChild(button);
      });
      parts.push(buttons);
      box.append(...parts);
      overlay.appendChild(box);
      document.body.appendChild(overlay);
      buttons.firstChild.focus();
    });
  }

  const NEVER = () => new Promise(() => {});  // the page is leaving: Stripe.js resolves nothing then

  function outcome(intent, kind) {
    const lastError = kind === "payment_intent" ? intent.last_payment_error : intent.last_setup_error;
    if (intent.status === "requires_payment_method" && lastError) {
      return {error: {...lastError, [kind]: intent}};
    }
    return kind === "payment_intent" ? {paymentIntent: intent} : {setupIntent: intent};
  }

  // -- The Stripe object -----------------------------------------------------------------------------

  function Stripe(key, options) {
    if (!(this instanceof Stripe)) return new Stripe(key, options);
    if (typeof key !== "string" || !key) {
      throw new IntegrationError("Please call Stripe() with your publishable key. You used an empty string.");
    }
    if (key.startsWith("sk_")) {
      throw new IntegrationError("You should not use your secret key with Stripe.js. Please pass a publishable key instead.");
    }
    if (!key.startsWith("pk_")) throw new IntegrationError(`Invalid API Key provided: ${key}`);
    this._key = key;
    this._options = options || {};
  }

  Object.assign(Stripe.prototype, {
    elements(options) {
      return new Elements(options);
    },

    // createPaymentMethod({type, card, billing_details}) or the older ("card", element, data).
    async createPaymentMethod(first, element, data) {
      const params = typeof first === "string" ? {...(data || {}), type: first, card: element} : {...first};
      if (params.card instanceof CardElement) {
        const state = params.card._inputs ? params.card._state() : null;
        if (!state) throw new IntegrationError("The card Element is not mounted.");
        if (state.error) return {error: state.error};
        params.card = state.card;
      }
      const answer = await call("POST", "/v1/payment_methods", {...params, key: this._key});
      return answer.error ? {error: answer.error} : {paymentMethod: answer.object};
    },

    async confirmCardPayment(clientSecret, data, options) {
      const id = intentId(clientSecret, "pi", "stripe.confirmCardPayment");
      return this._confirm("payment_intent", id, clientSecret, data, "card", options);
    },

    async confirmCardSetup(clientSecret, data, options) {
      const id = intentId(clientSecret, "seti", "stripe.confirmCardSetup");
      return this._confirm("setup_intent", id, clientSecret, data, "card", options);
    },

    async confirmAlipayPayment(clientSecret, data, options) {
      const id = intentId(clientSecret, "pi", "stripe.confirmAlipayPayment");
      return this._confirm("payment_intent", id, clientSecret, data, "alipay", options);
    },

    async confirmWechatPayPayment(clientSecret, data, options) {
      const id = intentId(clientSecret, "pi", "stripe.confirmWechatPayPayment");
      return this._confirm("payment_intent", id, clientSecret, data, "wechat_pay", options);
    },

    async retrievePaymentIntent(clientSecret) {
      const id = intentId(clientSecret, "pi", "stripe.retrievePaymentIntent");
      const answer = await call("GET", `/v1/payment_intents/${id}`, {key: this._key, client_secret: clientSecret});
      return answer.error ? {error: answer.error} : {paymentIntent: answer.object};
    },

    async retrieveSetupIntent(clientSecret) {
      const id = intentId(clientSecret, "seti", "stripe.retrieveSetupIntent");
      const answer = await call("GET", `/v1/setup_intents/${id}`, {key: this._key, client_secret: clientSecret});
      return answer.error ? {error: answer.error} : {setupIntent: answer.object};
    },

    // The intent was confirmed on the server and waits for the customer (3-D Secure, a wallet).
    async handleCardAction(clientSecret) {
      const id = intentId(clientSecret, "pi", "stripe.handleCardAction");
      const answer = await call("GET", `/v1/payment_intents/${id}`, {key: this._key, client_secret: clientSecret});
      return answer.error ? {error: answer.error} : this._nextAction("payment_intent", answer.object, clientSecret);
    },

    async handleNextAction({clientSecret}) {
      const kind = /^seti_/.test(clientSecret || "") ? "setup_intent" : "payment_intent";
      const id = intentId(clientSecret, kind === "setup_intent" ? "seti" : "pi", "stripe.handleNextAction");
      const answer = await call("GET", `/v1/${kind}s/${id}`, {key: this._key, client_secret: clientSecret});
      return answer.error ? {error: answer.error} : this._nextAction(kind, answer.object, clientSecret);
    },

    async _confirm(kind, id, clientSecret, data, methodType, options) {
      const {payment_method: paymentMethod, ...rest} = data || {};
      const params = {...rest, key: this._key, client_secret: clientSecret};
      if (typeof paymentMethod === "string") {
        params.payment_method = paymentMethod;
      } else if (methodType === "card" && paymentMethod) {
        // A card PaymentMethod from what was typed, then the confirmation with it (Stripe.js sends the
        // card as payment_method_data in one call; the peer ends in the same state either way).
        const made = await this.createPaymentMethod({...paymentMethod, type: "card"});
        if (made.error) return {error: made.error};
        params.payment_method = made.paymentMethod.id;
      } else if (methodType !== "card") {
        params.payment_method_data = {...(paymentMethod || {}), type: methodType};
      }
      if (!params.return_url) params.use_stripe_sdk = true;
      const answer = await call("POST", `/v1/${kind}s/${id}/confirm`, params);
      if (answer.error) return {error: answer.error};
      if ((options || {}).handleActions === false) return outcome(answer.object, kind);
      return this._nextAction(kind, answer.object, clientSecret);
    },

    async _nextAction(kind, intent, clientSecret) {
      const action = intent.status === "requires_action" ? intent.next_action : null;
      if (!action) return outcome(intent, kind);
      let success;
      if (action.type === "use_stripe_sdk") {
        success = await customerDialog({
          heading: "3-D Secure authentication", yes: "Complete", intent,
          text: "This dialog stands in for the card issuer's authentication: complete it, or make it fail.",
        });
      } else if (action.type === "wechat_pay_display_qr_code") {
        success = await customerDialog({
          heading: "WeChat Pay", yes: "Authorize", intent, qrSrc: action.wechat_pay_display_qr_code.image_data_url,
          text: "Scan the code with WeChat: here, authorize the payment or make it fail instead.",
        });
      } else if (action.type === "redirect_to_url" || action.type === "alipay_handle_redirect") {
        window.location.assign(action[action.type].url);
        return NEVER();
      } else {
        return {error: {type: "invalid_request_error", message: `The Stripe test peer cannot handle ${action.type}.`}};
      }
      const answer = await call("POST", `/_test/${kind}s/${intent.id}/authenticate`,
                                {key: this._key, client_secret: clientSecret, success});
      // A 3-D Secure card declined after authentication: a 402 card error with the intent in it.
      return answer.error ? {error: answer.error} : outcome(answer.object, kind);
    },
  });

  // What our pages do not use: said plainly rather than failing somewhere deeper.
  ["confirmPayment", "confirmSetup", "createToken", "createSource", "paymentRequest", "confirmSepaDebitPayment",
   "confirmSepaDebitSetup", "initCheckout", "initEmbeddedCheckout", "redirectToCheckout"].forEach((name) => {
    Stripe.prototype[name] = function () {
      throw new IntegrationError(`stripe.${name}() is not modelled by the Stripe test peer (docs/stripe-peer.md).`);
    };
  });

  Stripe.version = 3;
  Stripe.testPeer = PEER;
  window.Stripe = Stripe;
  console.info(`Stripe.js stand-in of the Stripe test peer at ${PEER}: no real payment is made.`);
})();
