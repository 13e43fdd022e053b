/* Online payment on the pledge pages (loaded only where online payment is offered, after Stripe.js).
 *
 * Pledge form: a Stripe.js card Element; on submit the card is tokenised in the browser
 * (stripe.createToken) and only the token (tok_…) goes to our server, which authorises the payment.
 * Payment page: if the bank asks for 3-D Secure, stripe.confirmCardPayment(clientSecret) runs it,
 * then the page reloads and the server asks Stripe how it ended. WeChat Pay / Alipay need no script.
 * Without JavaScript the form still works for cash and credit.
 */
(function () {
  "use strict";
  if (!window.Stripe) {
    return;
  }

  var form = document.querySelector("form[data-pledge-form]");
  var box = form && form.querySelector("[data-online-payment]");
  if (box) {
    var stripe = window.Stripe(box.getAttribute("data-stripe-key"));
    var card = stripe.elements().create("card");
    card.mount("#card-element");
    var method = form.querySelector("[name=payment_method]");
    var type = form.querySelector("[name=online_type]");
    var token = form.querySelector("[name=stripe_token]");
    var errors = document.getElementById("card-errors");
    var cardField = box.querySelector("[data-card-field]");
    var sync = function () {
      box.hidden = method.value !== "stripe";
      cardField.hidden = type.value !== "card";
    };
    method.addEventListener("change", sync);
    type.addEventListener("change", sync);
    sync();
    form.addEventListener("submit", function (event) {
      if (method.value !== "stripe" || type.value !== "card" || token.value) {
        return;
      }
      event.preventDefault();
      var button = form.querySelector("button[type=submit]");
      button.disabled = true;
      errors.textContent = "";
      stripe.createToken(card).then(function (result) {
        if (result.error || !result.token) {
          errors.textContent =
            (result.error && result.error.message) || box.getAttribute("data-card-error");
          button.disabled = false;
          return;
        }
        token.value = result.token.id;
        form.submit();
      });
    });
  }

  var confirm = document.querySelector("[data-confirm-card]");
  if (confirm) {
    var stripe3ds = window.Stripe(confirm.getAttribute("data-stripe-key"));
    stripe3ds.confirmCardPayment(confirm.getAttribute("data-client-secret")).then(function () {
      // Success or failure: the server retrieves the PaymentIntent and decides.
      window.location.replace(confirm.getAttribute("data-return-url"));
    });
  }
})();
