// The yardstick of bench/tus_throughput.py: @tus/server with @tus/file-store (pinned in
// package.json), as its README sets it up. Usage: PORT=… DIR=… node server.mjs
// Listens on 127.0.0.1 only; tus uploads under /files/. Prints "ready" once listening.
import http from 'node:http'
import { Server } from '@tus/server'
import { FileStore } from '@tus/file-store'

const tus = new Server({
  path: '/files',
  datastore: new FileStore({ directory: process.env.DIR }),
})
const server = http.createServer((req, res) => tus.handle(req, res))
server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('ready'))
process.on('SIGTERM', () => server.close(() => process.exit(0)))
