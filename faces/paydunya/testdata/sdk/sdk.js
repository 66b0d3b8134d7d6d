// Runs PayDunya's official Node SDK against Malipo. The Go test
// (sdk_test.go) starts Malipo, runs each step and checks what it prints.
'use strict';
const paydunya = require('paydunya');

const env = process.env;
const setup = new paydunya.Setup({
  masterKey: env.PAYDUNYA_MASTER_KEY,
  privateKey: env.PAYDUNYA_PRIVATE_KEY,
  publicKey: env.PAYDUNYA_PUBLIC_KEY,
  token: env.PAYDUNYA_TOKEN,
  mode: 'test',
});
setup.baseURL = env.PAYDUNYA_BASE_URL; // the only change a merchant makes

const store = new paydunya.Store({
  name: 'Magasin le Choco',
  tagline: "L'élégance n'a pas de prix",
  phoneNumber: '336530583',
  postalAddress: 'Dakar Plateau - Etablissement kheweul',
  websiteURL: 'http://www.chocodakar.com',
  logoURL: 'http://www.chocodakar.com/logo.png',
  callbackURL: env.CALLBACK_URL,
  returnURL: 'http://www.chocodakar.com/return_url.php',
  cancelURL: 'http://www.chocodakar.com/cancel_url.php',
});

function out(v) { process.stdout.write(JSON.stringify(v) + '\n'); }
function fail(step, err) {
  out({ step: step, error: String(err && err.message || err), data: err && err.data });
  process.exit(1);
}

const steps = {
  // Create a checkout invoice; the SDK confirms it right away.
  create: function () {
    const invoice = new paydunya.CheckoutInvoice(setup, store);
    invoice.addItem('Chaussures Croco', 3, 10000, 30000, 'Chaussures faites en peau de crocrodile authentique');
    invoice.addItem('Chemise Glacée', 1, 5000, 5000);
    invoice.addTax('TVA (18%)', 6300);
    invoice.addTax('Livraison', 1000);
    invoice.addCustomData('categorie', 'Jeu concours');
    invoice.addCustomData('numero_gagnant', 5);
    invoice.totalAmount = 42300;
    invoice.description = 'Paiement de 42300 FCFA pour article(s) achetés sur Magasin le Choco';
    return invoice.create().then(function () {
      out({ step: 'create', token: invoice.token, url: invoice.url, status: invoice.status, totalAmount: invoice.totalAmount,
        responseText: invoice.responseText });
    });
  },
  // Confirm an invoice paid meanwhile.
  confirm: function () {
    const invoice = new paydunya.CheckoutInvoice(setup, store);
    return invoice.confirm(env.INVOICE_TOKEN).then(function () {
      out({ step: 'confirm', status: invoice.status, totalAmount: invoice.totalAmount, customer: invoice.customer,
        receiptURL: invoice.receiptURL, customData: invoice.customData, providerReference: invoice.provider_reference });
    });
  },
  // Onsite payment: create for a customer account, charge with the code.
  opr: function () {
    const invoice = new paydunya.OnsiteInvoice(setup, store);
    invoice.addItem('Abonnement', 1, 5000, 5000);
    invoice.totalAmount = 5000;
    invoice.description = 'Abonnement mensuel';
    return invoice.create('+221770000000').then(function () {
      const created = { token: invoice.token, oprToken: invoice.oprToken, responseText: invoice.responseText };
      return invoice.charge(invoice.oprToken, '123456').then(function () {
        out({ step: 'opr', created: created, status: invoice.status, receiptURL: invoice.receiptURL, customer: invoice.customer });
      });
    });
  },
  // Credit a PayDunya account from the balance.
  directpay: function () {
    const dp = new paydunya.DirectPay(setup);
    return dp.creditAccount('+221770000000', 4500).then(function () {
      out({ step: 'directpay', responseText: dp.responseText, description: dp.description, transactionID: dp.transactionID });
    });
  },
  // A wrong key must fail the way the SDK expects.
  badkey: function () {
    const bad = new paydunya.Setup({ masterKey: 'wrong', privateKey: env.PAYDUNYA_PRIVATE_KEY, token: env.PAYDUNYA_TOKEN, mode: 'test' });
    bad.baseURL = env.PAYDUNYA_BASE_URL;
    const invoice = new paydunya.CheckoutInvoice(bad, store);
    invoice.totalAmount = 100;
    return invoice.create().then(function () {
      out({ step: 'badkey', error: null });
    }, function (err) {
      out({ step: 'badkey', error: err.message, data: err.data });
    });
  },
};

const step = process.argv[2];
if (!steps[step]) fail(step, 'unknown step');
steps[step]().catch(function (err) { fail(step, err); });
