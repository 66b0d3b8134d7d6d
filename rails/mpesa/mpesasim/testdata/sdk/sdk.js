// Drives Malipo's Daraja simulator with Safaricom's mpesa-node library,
// unchanged except for its base URL, and prints what it saw as JSON.
const Mpesa = require('mpesa-node')
const env = process.env
const mpesa = new Mpesa({
  consumerKey: env.CONSUMER_KEY,
  consumerSecret: env.CONSUMER_SECRET,
  environment: 'sandbox',
  shortCode: env.B2C_SHORTCODE,
  initiatorName: env.INITIATOR,
  lipaNaMpesaShortCode: env.SHORTCODE,
  lipaNaMpesaShortPass: env.PASSKEY,
  securityCredential: env.INITIATOR_PASSWORD,
  certPath: env.CERT_PATH
})
mpesa.baseURL = env.BASE_URL

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const answer = (e) => (e.response ? { status: e.response.status, data: e.response.data } : { error: String(e) })

async function main () {
  const out = {}
  const push = await mpesa.lipaNaMpesaOnline('254708370000', 100, env.CALLBACK_URL + '/stk', 'INV001')
  out.push = push.data
  try {
    await mpesa.lipaNaMpesaQuery(push.data.CheckoutRequestID)
    out.pending = 'answered'
  } catch (e) {
    out.pending = answer(e)
  }
  await sleep(Number(env.WAIT_MS))
  const query = await mpesa.lipaNaMpesaQuery(push.data.CheckoutRequestID)
  out.final = query.data
  try {
    await mpesa.lipaNaMpesaOnline('254708370000', 100, env.CALLBACK_URL + '/stk', 'A-REFERENCE-TOO-LONG')
  } catch (e) {
    out.badReference = answer(e)
  }
  const b2c = await mpesa.b2c(env.B2C_SHORTCODE, '254708370000', 250, env.CALLBACK_URL + '/timeout', env.CALLBACK_URL + '/result')
  out.b2c = b2c.data
  await sleep(Number(env.WAIT_MS))
  process.stdout.write(JSON.stringify(out))
}

main().catch((e) => {
  process.stderr.write(JSON.stringify(answer(e)) + '\n')
  process.exit(1)
})
