/*
 * CinetPay's Seamless SDK, served by Malipo: a merchant page written for
 * https://cdn.cinetpay.com/seamless/main.js works unchanged with this
 * script (only its address changes). getCheckout creates the payment with
 * the site's apikey (POST /v2/payment from the page), opens the checkout
 * over the page in a frame, asks /v2/payment/check until the payment is
 * ACCEPTED or REFUSED, then closes the frame and hands the check's data
 * to the waitResponse callback. Errors (a refused request, a closed
 * window) go to onError.
 */
(function (global) {
  "use strict";
  var me = document.currentScript;
  var api = me ? me.src.replace(/\/seamless\/main\.js(?:[?#].*)?$/, "") : "";
  var config = {}, onResponse = null, onFailure = null, overlay = null, timer = null, watching = "";

  function fail(data) {
    if (onFailure) { onFailure(data); } else if (global.console) { global.console.error("CinetPay", data); }
  }

  function post(path, body) {
    return fetch(api + path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body)
    }).then(function (r) { return r.json(); });
  }

  function close() {
    if (timer) { clearTimeout(timer); }
    timer = null;
    watching = "";
    if (overlay && overlay.parentNode) { overlay.parentNode.removeChild(overlay); }
    overlay = null;
  }

  function open(url) {
    close();
    overlay = document.createElement("div");
    overlay.id = "cinetpay-seamless";
    overlay.setAttribute("role", "dialog");
    overlay.setAttribute("aria-modal", "true");
    overlay.setAttribute("style", "position:fixed;top:0;left:0;right:0;bottom:0;z-index:2147483647;" +
      "background:rgba(17,24,39,.6);display:flex;align-items:center;justify-content:center");
    var frame = document.createElement("iframe");
    frame.id = "cinetpay-seamless-frame";
    frame.title = "CinetPay";
    frame.src = url;
    frame.setAttribute("style", "width:440px;max-width:100%;height:720px;max-height:100%;border:0;" +
      "border-radius:12px;background:#fff;box-shadow:0 10px 40px rgba(0,0,0,.3)");
    var shut = document.createElement("button");
    shut.type = "button";
    shut.id = "cinetpay-seamless-close";
    shut.setAttribute("aria-label", "Fermer / Close");
    shut.textContent = "\u00d7";
    shut.setAttribute("style", "position:absolute;top:8px;right:12px;font:28px/1 sans-serif;color:#fff;" +
      "background:none;border:0;cursor:pointer");
    shut.onclick = function () {
      close();
      fail({ code: "ABORTED", message: "WINDOW_CLOSED", description: "The customer closed the payment window" });
    };
    overlay.appendChild(frame);
    overlay.appendChild(shut);
    document.body.appendChild(overlay);
  }

  function watch(id) {
    watching = id;
    post("/v2/payment/check", { apikey: config.apikey, site_id: config.site_id, transaction_id: id })
      .then(function (a) {
        if (watching !== id) { return; }
        var d = a && a.data;
        if (d && (d.status === "ACCEPTED" || d.status === "REFUSED")) {
          close();
          if (onResponse) { onResponse(d); }
          return;
        }
        timer = setTimeout(function () { watch(id); }, 1500);
      })
      .catch(function () {
        if (watching === id) { timer = setTimeout(function () { watch(id); }, 3000); }
      });
  }

  global.CinetPay = {
    setConfig: function (c) { config = c || {}; },
    getCheckout: function (o) {
      var body = {}, k;
      o = o || {};
      for (k in o) { if (Object.prototype.hasOwnProperty.call(o, k)) { body[k] = o[k]; } }
      body.apikey = config.apikey;
      body.site_id = config.site_id;
      body.notify_url = o.notify_url || config.notify_url;
      body.return_url = o.return_url || config.return_url || api + "/seamless/done";
      if (!body.channels) { body.channels = "ALL"; }
      post("/v2/payment", body)
        .then(function (a) {
          if (!a || a.code !== "201" || !a.data || !a.data.payment_url) { fail(a); return; }
          open(a.data.payment_url);
          watch(String(body.transaction_id));
        })
        .catch(function (e) { fail({ code: "NETWORK_ERROR", message: "NETWORK_ERROR", description: String(e) }); });
    },
    waitResponse: function (f) { onResponse = f; },
    onError: function (f) { onFailure = f; }
  };
})(window);
