// MQTT.js (the npm mqtt package) against musqratt: connect, subscribe and
// publish at QoS 0, 1 and 2 over the URL given (ws:// or wss://).
// usage: node roundtrip.js URL [CAFILE] [PROTOCOL_VERSION]
// Prints one line "OK <n>" and exits 0 when every message came back in
// order with the QoS it was sent at; exits 1 with the reason otherwise.
'use strict';
const fs = require('fs');
const mqtt = require('mqtt');

const [url, cafile, pv] = process.argv.slice(2);
const opts = { protocolVersion: Number(pv || 4), reconnectPeriod: 0, connectTimeout: 5000 };
if (cafile) opts.ca = fs.readFileSync(cafile);

const topic = 'js/' + process.pid + '/' + Date.now();
const sent = [0, 1, 2].map((qos) => ({ qos, payload: 'qos' + qos + '-' + 'x'.repeat(1000 * qos) }));
const fail = (why) => { console.error('FAIL ' + why); process.exit(1); };
setTimeout(() => fail('timeout'), 15000).unref();

const sub = mqtt.connect(url, { ...opts, clientId: 'js-sub-' + process.pid });
sub.on('error', (e) => fail('sub: ' + e.message));
sub.on('connect', () => {
  sub.subscribe(topic, { qos: 2 }, (err, granted) => {
    if (err) return fail('subscribe: ' + err.message);
    if (granted[0].qos !== 2) return fail('granted ' + JSON.stringify(granted));
    const pub = mqtt.connect(url, { ...opts, clientId: 'js-pub-' + process.pid });
    pub.on('error', (e) => fail('pub: ' + e.message));
    pub.on('connect', () => {
      let acked = 0;
      for (const m of sent) {
        pub.publish(topic, m.payload, { qos: m.qos }, (e) => {
          if (e) return fail('publish: ' + e.message);
          if (++acked === sent.length) pub.end();
        });
      }
    });
  });
});
const got = [];
sub.on('message', (t, payload, packet) => {
  got.push({ qos: packet.qos, payload: payload.toString() });
  if (got.length < sent.length) return;
  for (let i = 0; i < sent.length; i++) {
    if (got[i].qos !== sent[i].qos || got[i].payload !== sent[i].payload)
      return fail('message ' + i + ': ' + JSON.stringify(got[i]).slice(0, 80));
  }
  console.log('OK ' + got.length);
  sub.end(false, {}, () => process.exit(0));
});
