// Drives the MoMo simulator with MTN's own Node SDK (mtn-momo 2.0.0):
// provisioning a user, request-to-pay and its status, balance, account
// holders, and a transfer. Prints one JSON object of what it saw.
const momo = require("mtn-momo");

const env = process.env;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const { Collections, Disbursements, Users } = momo.create({
    callbackHost: env.CALLBACK_HOST,
    baseUrl: env.MOMO_BASE_URL,
    environment: env.MOMO_ENVIRONMENT,
  });
  const out = {};

  // Sandbox provisioning, as the SDK's own CLI does it.
  const users = Users({ primaryKey: env.COLLECTION_KEY });
  const userId = await users.create(env.CALLBACK_HOST);
  const { apiKey } = await users.login(userId);
  out.provisioned = Boolean(userId && apiKey);

  const collections = Collections({ primaryKey: env.COLLECTION_KEY, userId, userSecret: apiKey });
  const ref = await collections.requestToPay({
    amount: "5000", currency: env.CURRENCY, externalId: "sdk-1",
    payer: { partyIdType: momo.PayerType.MSISDN, partyId: "256772120000" },
    payerMessage: "Shoes", payeeNote: "Order 1", callbackUrl: env.CALLBACK_URL,
  });
  out.reference = ref;
  out.pending = (await collections.getTransaction(ref)).status;
  await sleep(Number(env.WAIT_MS));
  const done = await collections.getTransaction(ref);
  out.final = done.status;
  out.financialTransactionId = done.financialTransactionId;
  out.amount = done.amount;
  try {
    const refused = await collections.requestToPay({
      amount: "100", currency: env.CURRENCY, externalId: "sdk-2",
      payer: { partyIdType: momo.PayerType.MSISDN, partyId: "46733123451" },
    });
    await sleep(Number(env.WAIT_MS));
    await collections.getTransaction(refused);
    out.rejected = "not rejected";
  } catch (e) {
    out.rejected = e.name; // the SDK turns a FAILED transaction into an error named by its reason
  }
  out.balance = await collections.getBalance();
  out.payerActive = await collections.isPayerActive("256772120000", momo.PayerType.MSISDN);

  const disbursements = Disbursements({ primaryKey: env.DISBURSEMENT_KEY, userId: env.API_USER, userSecret: env.API_KEY });
  const transferRef = await disbursements.transfer({
    amount: "700", currency: env.CURRENCY, externalId: "sdk-payout",
    payee: { partyIdType: momo.PayerType.MSISDN, partyId: "256772990000" },
    payerMessage: "Salary", payeeNote: "Salary", referenceId: require("crypto").randomUUID(),
  });
  await sleep(Number(env.WAIT_MS));
  out.transfer = (await disbursements.getTransaction(transferRef)).status;
  console.log(JSON.stringify(out));
}

main().catch((e) => {
  console.log(JSON.stringify({ error: String(e && (e.name + ": " + e.message)) }));
  process.exit(1);
});
