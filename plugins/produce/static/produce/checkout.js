/* Produce checkout: the card is tokenised in the browser by Stripe.js (only tok_… reaches our
 * server); 3-D Secure runs through confirmCardPayment on the payment page. The district list follows
 * the chosen city. WeChat Pay / Alipay need no script. */
(function () {
  "use strict";
  var city = document.getElementById("city");
  var district = document.getElementById("district");
  if (city && district) {
    var syncDistricts = function () {
      var first = null;
      Array.prototype.forEach.call(district.options, function (o) {
        var show = o.getAttribute("data-city") === city.value;
        o.hidden = !show;
        o.disabled = !show;
        if (show && !first) { first = o; }
      });
      if (district.selectedOptions[0] && district.selectedOptions[0].disabled && first) { first.selected = true; }
    };
    city.addEventListener("change", syncDistricts);
    syncDistricts();
  }
  if (!window.Stripe) { return; }
  var form = document.querySelector("form[data-pay-form]");
  var box = form && form.querySelector("[data-online-payment]");
  if (box && box.getAttribute("data-stripe-key")) {
    var stripe = window.Stripe(box.getAttribute("data-stripe-key"));
    var card = stripe.elements().create("card");
    card.mount("#card-element");
    var type = form.querySelector("[name=online_type]");
    var token = form.querySelector("[name=stripe_token]");
    var errors = document.getElementById("card-errors");
    var cardField = box.querySelector("[data-card-field]");
    var sync = function () { cardField.hidden = type.value !== "card"; };
    type.addEventListener("change", sync);
    sync();
    form.addEventListener("submit", function (event) {
      if (type.value !== "card" || token.value) { return; }
      event.preventDefault();
      var button = form.querySelector("button[type=submit]");
      button.disabled = true;
      errors.textContent = "";
      stripe.createToken(card).then(function (result) {
        if (result.error || !result.token) {
          errors.textContent = (result.error && result.error.message) || box.getAttribute("data-card-error");
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
    window.Stripe(confirm.getAttribute("data-stripe-key"))
      .confirmCardPayment(confirm.getAttribute("data-client-secret"))
      .then(function () { window.location.replace(confirm.getAttribute("data-return-url")); });
  }
})();
