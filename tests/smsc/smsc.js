// An SMSC for Loa's tests, built on the `smpp` package (node-smpp), which Loa did not write.
// It speaks SMPP on --port and takes orders as JSON over HTTP on --control-port (127.0.0.1 only):
//   GET  /submits   every submit_sm received (decoded by node-smpp), with the answer given
//   GET  /binds     every bind (system_id, kind, accepted, open)
//   GET  /mo        every deliver_sm sent to Loa (MO parts and receipts), with the answers got
//   POST /program   {"refuse_binds", "statuses": [codes for the next submits], "hang": n,
//                    "cut_after": k, "delay_ms", "receipts": bool, "receipt_delay_ms",
//                    "receipt_stat": {"84…": "UNDELIV"}, "receipt_stat_seq": {"2": "UNDELIV"},
//                    "redeliver_after_ms", "max_redeliveries"}
//   POST /mo/send   {"from", "to", "text", "data_coding"?, "parts"?, "udh16"?, "skip_parts"?,
//                    "raw_hex"?}: send a citizen's message (split and encoded by node-smpp)
//   POST /raw       {"hex"}: write these bytes to every bound session (a malformed PDU)
//   POST /cut       drop every connection now
//   POST /reset     forget everything and every order
'use strict';
const http = require('http');
const smpp = require('smpp');

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const PORT = Number(args.port);
const CONTROL = Number(args['control-port']);
const SYSTEM_ID = args['system-id'] || 'loa';
const PASSWORD = args.password || 'secret';

let state;
let nextId = 1; // message ids are never reused, even across resets (as an SMSC's are not)
function reset() {
  state = {
    program: { refuse_binds: false, statuses: [], hang: 0, cut_after: null, delay_ms: 0, receipts: true,
               receipt_delay_ms: 50, receipt_stat: {}, receipt_stat_seq: {}, redeliver_after_ms: 2000, max_redeliveries: 3 },
    submits: [], binds: [], mo: [], received: 0,
  };
}
reset();
const sessions = new Set();

function receivers() {
  return [...sessions].filter((s) => s.bound && (s.kind === 'bind_transceiver' || s.kind === 'bind_receiver'));
}

function ts(date) {
  const p = (n) => String(n).padStart(2, '0');
  return p(date.getUTCFullYear() % 100) + p(date.getUTCMonth() + 1) + p(date.getUTCDate()) + p(date.getUTCHours()) + p(date.getUTCMinutes());
}

// Send a deliver_sm to Loa and send it again until Loa answers ROK (or we give up).
function deliver(params, record) {
  const targets = receivers();
  if (!targets.length) { record.attempts.push({ at: Date.now(), status: null, note: 'no receiver bound' }); return; }
  const session = targets[0];
  let answered = false;
  const attempt = { at: Date.now(), status: null };
  record.attempts.push(attempt);
  session.deliver_sm(Object.assign({}, params), (resp) => {
    answered = true;
    attempt.status = resp.command_status;
    if (resp.command_status !== 0) retry();
  });
  const timer = setTimeout(() => { if (!answered) { attempt.status = 'timeout'; retry(); } }, state.program.redeliver_after_ms);
  function retry() {
    clearTimeout(timer);
    if (record.attempts.length > state.program.max_redeliveries) return;
    setTimeout(() => deliver(params, record), 100);
  }
}

function sendReceipt(submit) {
  const udh = submit.udh.length ? Buffer.from(submit.udh[0], 'hex') : null;
  const seq = udh ? String(udh[udh.length - 1]) : '1';
  const stat = state.program.receipt_stat_seq[seq] || state.program.receipt_stat[submit.destination_addr] || 'DELIVRD';
  const states = { ENROUTE: 1, DELIVRD: 2, EXPIRED: 3, DELETED: 4, UNDELIV: 5, ACCEPTD: 6, UNKNOWN: 7, REJECTD: 8 };
  const now = ts(new Date());
  const text = `id:${submit.message_id} sub:001 dlvrd:${stat === 'DELIVRD' ? '001' : '000'} submit date:${now} done date:${now} stat:${stat} err:${stat === 'DELIVRD' ? '000' : '001'} text:`;
  const record = { kind: 'receipt', message_id: submit.message_id, stat, attempts: [] };
  state.mo.push(record);
  deliver({
    source_addr: submit.destination_addr, source_addr_ton: 1, source_addr_npi: 1,
    destination_addr: submit.source_addr, esm_class: 0x04, data_coding: 0,
    short_message: Buffer.from(text, 'latin1'), receipted_message_id: submit.message_id, message_state: states[stat],
  }, record);
}

function onSubmit(session, pdu) {
  const program = state.program;
  state.received += 1;
  const sm = pdu.short_message || {};
  const payload = pdu.message_payload;
  const submit = {
    source_addr: pdu.source_addr, source_addr_ton: pdu.source_addr_ton, source_addr_npi: pdu.source_addr_npi,
    destination_addr: pdu.destination_addr, dest_addr_ton: pdu.dest_addr_ton, dest_addr_npi: pdu.dest_addr_npi,
    data_coding: pdu.data_coding, esm_class: pdu.esm_class, registered_delivery: pdu.registered_delivery,
    validity_period: pdu.validity_period ? String(pdu.validity_period) : null,
    udh: (sm.udh || []).map((u) => Buffer.from(u).toString('hex')),
    text: typeof sm.message === 'string' ? sm.message : null,
    payload: payload ? (typeof payload.message === 'string' ? payload.message : String(payload)) : null,
    sequence_number: pdu.sequence_number, status: null, message_id: null, at: Date.now(),
  };
  state.submits.push(submit);
  if (program.cut_after !== null && state.received >= program.cut_after) {
    program.cut_after = null;
    submit.status = 'cut';
    for (const s of sessions) s.destroy();
    return;
  }
  if (program.hang > 0) { program.hang -= 1; submit.status = 'hang'; return; }
  const status = program.statuses.length ? program.statuses.shift() : 0;
  submit.status = status;
  if (status === 0) submit.message_id = 'M' + String(nextId++).padStart(8, '0');
  setTimeout(() => {
    session.send(pdu.response(status === 0 ? { message_id: submit.message_id } : { command_status: status }));
    if (status === 0 && pdu.registered_delivery && program.receipts) {
      setTimeout(() => sendReceipt(submit), program.receipt_delay_ms);
    }
  }, program.delay_ms);
}

const server = smpp.createServer({}, (session) => {
  sessions.add(session);
  session.on('error', () => {});
  session.on('close', () => { session.bound = false; sessions.delete(session); for (const b of state.binds) if (b.session === session.id) b.open = false; });
  session.id = Math.random().toString(36).slice(2);
  for (const kind of ['bind_transceiver', 'bind_transmitter', 'bind_receiver']) {
    session.on(kind, (pdu) => {
      const ok = !state.program.refuse_binds && pdu.system_id === SYSTEM_ID && pdu.password === PASSWORD;
      state.binds.push({ kind, system_id: pdu.system_id, accepted: ok, open: ok, session: session.id, at: Date.now() });
      if (!ok) {
        session.send(pdu.response({ command_status: state.program.refuse_binds ? smpp.ESME_RBINDFAIL : smpp.ESME_RINVPASWD }));
        return;
      }
      session.kind = kind;
      session.bound = true;
      session.send(pdu.response({ system_id: 'FAKESMSC' }));
    });
  }
  session.on('submit_sm', (pdu) => onSubmit(session, pdu));
  session.on('enquire_link', (pdu) => session.send(pdu.response()));
  session.on('unbind', (pdu) => { session.send(pdu.response()); session.close(); });
  session.on('generic_nack', (pdu) => state.mo.push({ kind: 'generic_nack', status: pdu.command_status, sequence_number: pdu.sequence_number, attempts: [] }));
});
server.listen(PORT, '127.0.0.1');

function split(text, dataCoding, parts) {
  const encoded = dataCoding === 8 ? smpp.encodings.UCS2.encode(text) : smpp.encodings.ASCII.encode(text);
  const size = dataCoding === 8 ? 134 : 153;
  const n = parts || Math.max(1, Math.ceil(encoded.length / size));
  if (n === 1) return [encoded];
  const chunk = dataCoding === 8 ? Math.ceil(encoded.length / 2 / n) * 2 : Math.ceil(encoded.length / n);
  const out = [];
  for (let i = 0; i < n; i++) out.push(encoded.slice(i * chunk, (i + 1) * chunk));
  return out;
}

let moRef = 1;
function sendMo(order) {
  const to = order.to || '8079';
  if (order.raw_hex !== undefined) {
    const record = { kind: 'mo', from: order.from, attempts: [] };
    state.mo.push(record);
    deliver({ source_addr: order.from, source_addr_ton: 1, source_addr_npi: 1, destination_addr: to,
              esm_class: 0, data_coding: order.data_coding || 0, short_message: Buffer.from(order.raw_hex, 'hex') }, record);
    return 1;
  }
  const dataCoding = order.data_coding !== undefined ? order.data_coding : (smpp.encodings.ASCII.match(order.text) ? 0 : 8);
  const chunks = split(order.text, dataCoding, order.parts);
  const ref = (moRef++) & (order.udh16 ? 0xFFFF : 0xFF);
  const skip = new Set(order.skip_parts || []);
  chunks.forEach((chunk, i) => {
    if (skip.has(i)) return;
    let message = chunk;
    let esm = 0;
    if (chunks.length > 1) {
      const udh = order.udh16
        ? Buffer.from([0x06, 0x08, 0x04, ref >> 8, ref & 0xFF, chunks.length, i + 1])
        : Buffer.from([0x05, 0x00, 0x03, ref, chunks.length, i + 1]);
      message = Buffer.concat([udh, chunk]);
      esm = 0x40;
    }
    const record = { kind: 'mo', from: order.from, part: i + 1, of: chunks.length, attempts: [] };
    state.mo.push(record);
    deliver({ source_addr: order.from, source_addr_ton: 1, source_addr_npi: 1, destination_addr: to,
              esm_class: esm, data_coding: dataCoding, short_message: message }, record);
  });
  return chunks.length;
}

function body(req) {
  return new Promise((resolve) => {
    let data = '';
    req.on('data', (c) => { data += c; });
    req.on('end', () => resolve(data ? JSON.parse(data) : {}));
  });
}

http.createServer(async (req, res) => {
  const reply = (value) => { res.writeHead(200, { 'Content-Type': 'application/json' }); res.end(JSON.stringify(value)); };
  try {
    const order = req.method === 'POST' ? await body(req) : {};
    if (req.url === '/submits') return reply(state.submits);
    if (req.url === '/binds') return reply(state.binds);
    if (req.url === '/mo') return reply(state.mo);
    if (req.url === '/program') { Object.assign(state.program, order); return reply(state.program); }
    if (req.url === '/mo/send') return reply({ parts: sendMo(order) });
    if (req.url === '/raw') { for (const s of receivers()) s.socket.write(Buffer.from(order.hex, 'hex')); return reply({ ok: true }); }
    if (req.url === '/cut') { for (const s of sessions) s.destroy(); return reply({ ok: true }); }
    if (req.url === '/reset') { for (const s of sessions) s.destroy(); reset(); return reply({ ok: true }); }
    res.writeHead(404); res.end();
  } catch (e) {
    res.writeHead(500); res.end(String(e && e.stack));
  }
}).listen(CONTROL, '127.0.0.1');
