// Forwards TCP connections from LISTEN_HOST:PORT to TARGET_HOST:PORT. Runs inside the test's own network namespace,
// where the private RGW listens on 127.0.0.1 (rgw-up.sh binds loopback only) and the LVM guest (UML or QEMU TCG)
// reaches it through the namespace's tap device. Usage: node tcp-relay.mjs LISTEN_HOST:PORT TARGET_HOST:PORT
import { createServer, connect } from 'node:net';

const [listen, target] = process.argv.slice(2).map((a) => {
  const i = a.lastIndexOf(':');
  return { host: a.slice(0, i), port: Number(a.slice(i + 1)) };
});
if (!listen?.port || !target?.port) {
  console.error('usage: node tcp-relay.mjs LISTEN_HOST:PORT TARGET_HOST:PORT');
  process.exit(2);
}
const server = createServer((client) => {
  const upstream = connect(target.port, target.host);
  client.pipe(upstream).pipe(client);
  const close = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', close);
  upstream.on('error', close);
});
server.listen(listen.port, listen.host, () => console.log(`relay ${listen.host}:${listen.port} -> ${target.host}:${target.port}`));
