// Bundles page.js with esbuild, serves it (and the test's data files) from its own origin,
// and runs the scenarios in headless Debian Chromium through playwright-core.
// Usage: node run.js <scenarios.json>   (a JSON object: {port, dataDir, scenarios})
// Prints one JSON line: the outcome of each scenario, as Uppy saw it.
'use strict'

const fs = require('fs')
const http = require('http')
const path = require('path')
const esbuild = require('esbuild')
const { chromium } = require('playwright-core')

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium'

async function main () {
  const { port, dataDir, scenarios, timeoutMs } = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'))
  const built = await esbuild.build({
    entryPoints: [path.join(__dirname, 'page.js')],
    bundle: true, format: 'iife', write: false, target: 'es2022', logLevel: 'error',
  })
  const bundle = built.outputFiles[0].contents
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://page')
    if (url.pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/html' })
      return res.end('<!doctype html><meta charset="utf-8"><script src="/bundle.js"></script>')
    }
    if (url.pathname === '/bundle.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' })
      return res.end(bundle)
    }
    const name = path.basename(url.pathname)
    const file = path.join(dataDir, name)
    if (url.pathname.startsWith('/data/') && fs.existsSync(file)) {
      res.writeHead(200, { 'content-type': 'application/octet-stream' })
      return fs.createReadStream(file).pipe(res)
    }
    res.writeHead(404)
    res.end()
  })
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve))
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
  try {
    const page = await browser.newPage()
    const logs = []
    page.on('console', (m) => logs.push(m.text()))
    page.on('pageerror', (e) => logs.push(String(e)))
    await page.goto(`http://127.0.0.1:${port}/`)
    page.setDefaultTimeout(timeoutMs || 120000)
    const outcomes = await page.evaluate((s) => window.runScenarios(s), scenarios)
    process.stdout.write(JSON.stringify({ outcomes, logs: logs.slice(-50) }) + '\n')
  } finally {
    await browser.close()
    server.close()
  }
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack) + '\n')
  process.exit(1)
})
