// Drives the real tus-js-client (pinned in package.json) against a running uploadcore.
// Usage: node scenario.js <chunked|resume|parallel|deferred|terminate>
// Environment: ENDPOINT (…/v1/tus/), AUTH (the Authorization header), DATA (a file to send).
// Prints one JSON line: what the test checks.
'use strict'

const fs = require('fs')
const { Readable } = require('stream')
const tus = require('tus-js-client')

const data = fs.readFileSync(process.env.DATA)
const base = {
  endpoint: process.env.ENDPOINT,
  headers: { Authorization: process.env.AUTH },
  metadata: { filename: 'from-tus-js.bin', filetype: 'application/x-test' },
  retryDelays: null,
}
const seen = []

function record (req) {
  seen.push({ method: req.getMethod(), offset: req.getHeader('Upload-Offset') || null })
}

function run (input, options) {
  return new Promise((resolve, reject) => {
    const upload = new tus.Upload(input, {
      ...base,
      onBeforeRequest: record,
      ...options,
      onError: reject,
      onSuccess: () => resolve(upload),
    })
    if (options.start !== false) upload.start()
  })
}

function stopAfterFirstChunk (terminate) {
  return new Promise((resolve, reject) => {
    const upload = new tus.Upload(data, {
      ...base,
      chunkSize: 64 * 1024,
      onBeforeRequest: record,
      onError: reject,
      onSuccess: () => reject(new Error('finished before it was stopped')),
      onChunkComplete: () => {
        upload.abort(terminate).then(() => resolve(upload), reject)
      },
    })
    upload.start()
  })
}

async function main (scenario) {
  if (scenario === 'chunked') {
    const upload = await run(data, { chunkSize: 64 * 1024 })
    return { url: upload.url }
  }
  if (scenario === 'resume') {
    const first = await stopAfterFirstChunk(false)
    const before = seen.length
    // A new client, as after a page reload: it only knows the upload's URL.
    const second = await run(data, { chunkSize: 64 * 1024, uploadUrl: first.url })
    return { url: second.url, firstUrl: first.url, resumed: seen.slice(before) }
  }
  if (scenario === 'parallel') {
    const upload = await run(data, { parallelUploads: 3 })
    return { url: upload.url }
  }
  if (scenario === 'deferred') {
    const stream = Readable.from([data.subarray(0, 100000), data.subarray(100000)])
    const upload = await run(stream, { uploadLengthDeferred: true, chunkSize: 48 * 1024 })
    return { url: upload.url }
  }
  if (scenario === 'terminate') {
    const upload = await stopAfterFirstChunk(true)
    return { url: upload.url }
  }
  throw new Error(`unknown scenario ${scenario}`)
}

main(process.argv[2]).then(
  (result) => { console.log(JSON.stringify({ ...result, requests: seen })) },
  (error) => { console.error(String(error && error.stack ? error.stack : error)); process.exit(1) },
)
