// BillingAccountService.Get through the official Node.js SDK
// (@yandex-cloud/nodejs-sdk, pinned in package.json) with N calls in flight
// (N concurrent async loops on one event loop), against a running server;
// measures this process's CPU per call.
//
// The SDK's generated BillingAccountServiceClient through the SDK's own
// client factory (its error-metadata, retry and deadline middleware: what
// `Session.client` builds) over a plaintext nice-grpc channel, since
// `Session` always uses TLS and the emulator here is plaintext. Every call
// carries `authorization: Bearer <IAM token>` and a 30 s deadline.
//
// Usage: node get.js ADDRESS TOKEN ACCOUNT_ID INFLIGHT SECONDS
// Prints, after a 0.3 s warm-up:
//   node_get inflight=64 calls=9000 secs=3.001 calls_per_s=2999 cpu_us=333.10
// where cpu_us is user + system time of this process (process.cpuUsage) per call.
'use strict';

const path = require('path');
const { createChannel, Metadata, ChannelCredentials } = require('nice-grpc');
const sdk = path.join(__dirname, 'node_modules/@yandex-cloud/nodejs-sdk/dist');
// Not in the package's "exports": required by file, as Session does.
const { clientFactory } = require(path.join(sdk, 'utils/client-factory.js'));
const {
    BillingAccountServiceClient,
    GetBillingAccountRequest,
} = require('@yandex-cloud/nodejs-sdk/billing-v1/billing_account_service');

async function round(client, metadata, id, inflight, seconds) {
    const deadline = Date.now() + seconds * 1000;
    let calls = 0;
    const loop = async () => {
        const request = GetBillingAccountRequest.fromPartial({ id });
        while (Date.now() < deadline) {
            await client.get(request, { metadata, deadline: new Date(Date.now() + 30000) });
            calls += 1;
        }
    };
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await Promise.all(Array.from({ length: inflight }, loop));
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    return { calls, wall, cpuUs: cpu.user + cpu.system };
}

async function main() {
    const [address, token, id, inflightArg, secondsArg] = process.argv.slice(2);
    const inflight = Number(inflightArg || 1);
    const seconds = Number(secondsArg || 3);
    const channel = createChannel(address, ChannelCredentials.createInsecure());
    const client = clientFactory.create(BillingAccountServiceClient.service, channel);
    const metadata = Metadata({ authorization: `Bearer ${token}` });
    await client.get(GetBillingAccountRequest.fromPartial({ id }), { metadata });
    await round(client, metadata, id, inflight, 0.3);
    const r = await round(client, metadata, id, inflight, seconds);
    console.log(
        `node_get inflight=${inflight} calls=${r.calls} secs=${r.wall.toFixed(3)} ` +
            `calls_per_s=${(r.calls / r.wall).toFixed(0)} cpu_us=${(r.cpuUs / Math.max(r.calls, 1)).toFixed(2)}`,
    );
    channel.close();
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});
