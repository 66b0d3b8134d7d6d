// Malipo checkout: small helps on top of pages that work without it.
(function () {
  "use strict";
  // Follow a payment waiting for the customer's phone: reload when it moves.
  var wait = document.getElementById("waiting");
  if (wait) {
    var poll = function () {
      fetch(wait.dataset.status, { headers: { Accept: "application/json" }, cache: "no-store" })
        .then(function (r) { return r.json(); })
        .then(function (s) {
          if (s.status !== wait.dataset.current) { window.location.reload(); } else { setTimeout(poll, 1500); }
        })
        .catch(function () { setTimeout(poll, 3000); });
    };
    setTimeout(poll, 1000);
  }
  // Card number: group digits by four and check them (Luhn) before sending.
  var luhn = function (d) {
    var sum = 0;
    for (var i = 0; i < d.length; i++) {
      var n = +d[d.length - 1 - i];
      if (i % 2) { n *= 2; if (n > 9) n -= 9; }
      sum += n;
    }
    return d.length >= 12 && sum % 10 === 0;
  };
  var number = document.getElementById("number");
  if (number) {
    number.addEventListener("input", function () {
      var d = number.value.replace(/\D/g, "").slice(0, 19);
      number.value = d.replace(/(\d{4})(?=\d)/g, "$1 ");
      number.setCustomValidity("");
    });
    number.form.addEventListener("submit", function (e) {
      if (!luhn(number.value.replace(/\D/g, ""))) {
        number.setCustomValidity(document.documentElement.lang === "fr" ? "Numéro de carte invalide" : "Invalid card number");
        number.reportValidity();
        e.preventDefault();
      }
    });
  }
  var expiry = document.getElementById("expiry");
  if (expiry) {
    expiry.addEventListener("input", function (e) {
      var d = expiry.value.replace(/\D/g, "").slice(0, 4);
      if (d.length > 2 || (d.length === 2 && e.inputType !== "deleteContentBackward")) d = d.slice(0, 2) + "/" + d.slice(2);
      expiry.value = d;
    });
  }
  // A submitted form cannot be submitted twice.
  Array.prototype.forEach.call(document.querySelectorAll("form"), function (f) {
    f.addEventListener("submit", function (e) {
      if (e.defaultPrevented) return;
      setTimeout(function () {
        Array.prototype.forEach.call(f.querySelectorAll("button"), function (b) { b.disabled = true; });
      }, 0);
    });
  });
})();
