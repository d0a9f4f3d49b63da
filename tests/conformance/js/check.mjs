// Conformance of `dxctl sim serve` seen through the AWS SDK for JavaScript v3 (@aws-sdk/client-direct-connect).
//
//   npm ci --prefix tests/conformance/js
//   DXCTL_SIM_URL=http://127.0.0.1:PORT [DXCTL_SIM_WORLD=world.json] node tests/conformance/js/check.mjs
//
// Which checks run depends on the world's "conformanceFixture" (tests/it/conformance.rs writes the worlds):
// - none, or "js": the seed world (examples/seed/world.json) untouched, with a provisionDelay of a few seconds or
//   more (the new peer is checked while pending);
// - "js-realism": 150 VIFs dxvif-js000001… with one IPv4 peer each, and a CreateBGPPeer rate limit of burst 2:
//   paging, AWS's error texts and throttling.
// Exits non-zero on any mismatch.

import { readFileSync } from "node:fs";

import {
  CreateBGPPeerCommand,
  CreatePrivateVirtualInterfaceCommand,
  DeleteBGPPeerCommand,
  DescribeConnectionsCommand,
  DescribeInterconnectsCommand,
  DescribeLagsCommand,
  DescribeVirtualInterfacesCommand,
  DirectConnectClient,
  DirectConnectClientException,
} from "@aws-sdk/client-direct-connect";

const url = process.env.DXCTL_SIM_URL;
if (!url) {
  console.error("DXCTL_SIM_URL is not set");
  process.exit(2);
}
if (!["127.0.0.1", "localhost", "[::1]"].includes(new URL(url).hostname)) {
  console.error(`DXCTL_SIM_URL must be a loopback address, got ${url}`);
  process.exit(2);
}
// Never hang: the whole check is bounded.
setTimeout(() => {
  console.error("timed out after 30s");
  process.exit(3);
}, 30_000).unref();

const dx = new DirectConnectClient({
  endpoint: url,
  region: "us-east-1",
  credentials: { accessKeyId: "AKIDCONFORMANCEJS", secretAccessKey: "conformance-js-secret" },
  maxAttempts: 1,
});

const VIF = "dxvif-fg1vuj3d";
let failures = 0;
function check(cond, what, got) {
  if (cond) {
    console.log(`ok   ${what}`);
  } else {
    failures += 1;
    console.log(`FAIL ${what}${got === undefined ? "" : `: got ${JSON.stringify(got)}`}`);
  }
}

async function refused(what, command) {
  try {
    const out = await dx.send(command);
    check(false, `${what} is refused`, out);
  } catch (err) {
    check(err.name === "DirectConnectClientException", `${what}: err.name is DirectConnectClientException`, err.name);
    check(err instanceof DirectConnectClientException, `${what}: an instance of DirectConnectClientException`);
    check(err.$metadata?.httpStatusCode === 400, `${what}: HTTP 400`, err.$metadata?.httpStatusCode);
    check(typeof err.message === "string" && err.message.length > 0, `${what}: a message`, err.message);
  }
}

// A refusal with exactly this error name, HTTP status and message.
async function fails(what, command, name, status, message) {
  try {
    const out = await dx.send(command);
    check(false, `${what} is refused`, out);
  } catch (err) {
    check(err.name === name, `${what}: err.name is ${name}`, err.name);
    check(err.$metadata?.httpStatusCode === status, `${what}: HTTP ${status}`, err.$metadata?.httpStatusCode);
    check(err.message === message, `${what}: message ${JSON.stringify(message)}`, err.message);
    if (name === "DirectConnectClientException") {
      check(err instanceof DirectConnectClientException, `${what}: an instance of DirectConnectClientException`);
    }
  }
}

async function seedExample() {
  // DescribeVirtualInterfaces, by id and all.
  const one = await dx.send(new DescribeVirtualInterfacesCommand({ virtualInterfaceId: VIF }));
  check(one.virtualInterfaces?.length === 1, "describe by id returns one VIF", one.virtualInterfaces?.length);
  const seed = one.virtualInterfaces?.[0] ?? {};
  check(seed.virtualInterfaceId === VIF, "the seed VIF", seed.virtualInterfaceId);
  check(seed.virtualInterfaceState === "available", "seed VIF available", seed.virtualInterfaceState);
  check(
    seed.bgpPeers?.length === 1 && seed.bgpPeers[0].bgpPeerId === "dxpeer-fg1v4v4e" && seed.bgpPeers[0].asn === 65000,
    "seed VIF has its IPv4 peer",
    seed.bgpPeers,
  );
  const all = await dx.send(new DescribeVirtualInterfacesCommand({}));
  check((all.virtualInterfaces ?? []).some((v) => v.virtualInterfaceId === VIF), "describe all lists the seed VIF");

  // The reference page's example: aws directconnect create-bgp-peer --new-bgp-peer asn=64600,addressFamily=ipv6
  const created = await dx.send(
    new CreateBGPPeerCommand({ virtualInterfaceId: VIF, newBGPPeer: { asn: 64600, addressFamily: "ipv6" } }),
  );
  const vif = created.virtualInterface ?? {};
  check(vif.virtualInterfaceId === VIF, "CreateBGPPeer returns {virtualInterface}", Object.keys(created));
  check(vif.bgpPeers?.length === 2, "the VIF now has two peers", vif.bgpPeers?.length);
  const peer = (vif.bgpPeers ?? []).find((p) => p.bgpPeerId !== "dxpeer-fg1v4v4e") ?? {};
  check(peer.addressFamily === "ipv6" && peer.asn === 64600, "new peer is ipv6 asn 64600", peer);
  check(peer.bgpPeerState === "pending", "new peer is pending", peer.bgpPeerState);
  check(peer.amazonAddress === "2001:db8:1100:2f0:0:1:9cb4:4211/125", "amazonAddress as in the reference", peer.amazonAddress);
  check(
    peer.customerAddress === "2001:db8:1100:2f0:0:1:9cb4:4216/125",
    "customerAddress as in the reference",
    peer.customerAddress,
  );
  check(
    typeof peer.authKey === "string" && peer.authKey.startsWith("0x") && peer.authKey.length === 24,
    "authKey generated (0x + 22 characters)",
    peer.authKey,
  );
  check(/^dxpeer-[0-9a-z]+$/.test(peer.bgpPeerId ?? ""), "new peer has a bgpPeerId", peer.bgpPeerId);

  // Refusals the SDK must map to its modelled exception.
  await refused(
    "IPv6 peer with a customerAddress",
    new CreateBGPPeerCommand({
      virtualInterfaceId: VIF,
      newBGPPeer: { asn: 64601, addressFamily: "ipv6", customerAddress: "2001:db8:1100:2f0:0:1:9cb4:4226/125" },
    }),
  );
  await refused(
    "second IPv6 peer without logical redundancy",
    new CreateBGPPeerCommand({ virtualInterfaceId: VIF, newBGPPeer: { asn: 64601, addressFamily: "ipv6" } }),
  );

  // CreatePrivateVirtualInterface answers a bare VirtualInterface, which the SDK deserialises at the top level.
  const pvif = await dx.send(
    new CreatePrivateVirtualInterfaceCommand({
      connectionId: "dxcon-fguhmqlc",
      newPrivateVirtualInterface: { virtualInterfaceName: "js-private", vlan: 200, asn: 65010 },
    }),
  );
  check(/^dxvif-[0-9a-z]+$/.test(pvif.virtualInterfaceId ?? ""), "bare VIF from CreatePrivateVirtualInterface", pvif);
  check(pvif.virtualInterfaceState === "pending", "new private VIF is pending", pvif.virtualInterfaceState);
  check(pvif.vlan === 200 && pvif.virtualInterfaceType === "private", "new VIF's vlan and type", pvif);
}

async function realism() {
  // Paging: no maxResults gives everything; maxResults above 100 gives pages of 100 ("If MaxResults is given a
  // value larger than 100, only 100 results are returned").
  const all = await dx.send(new DescribeVirtualInterfacesCommand({}));
  const everything = (all.virtualInterfaces ?? []).map((v) => v.virtualInterfaceId).sort();
  check(everything.length === 150 && all.nextToken === undefined, "no maxResults: all 150 VIFs, no nextToken", {
    count: everything.length,
    nextToken: all.nextToken,
  });
  const ids = [];
  const sizes = [];
  let token;
  for (let i = 0; i < 10; i++) {
    const page = await dx.send(new DescribeVirtualInterfacesCommand({ maxResults: 1000, nextToken: token }));
    sizes.push(page.virtualInterfaces?.length);
    ids.push(...(page.virtualInterfaces ?? []).map((v) => v.virtualInterfaceId));
    token = page.nextToken;
    if (!token) break;
    check(!token.includes("dxvif-"), "the nextToken is opaque", token);
  }
  check(JSON.stringify(sizes) === "[100,50]", "maxResults 1000: pages of 100 and 50", sizes);
  check(JSON.stringify(ids) === JSON.stringify(everything), "the pages return each VIF once, in id order");
  await fails(
    "a nextToken that is not one",
    new DescribeVirtualInterfacesCommand({ maxResults: 10, nextToken: "not-a-token" }),
    "DirectConnectClientException",
    400,
    "The nextToken is not valid for this request.",
  );
  const vifToken = (await dx.send(new DescribeVirtualInterfacesCommand({ maxResults: 1 }))).nextToken;
  await fails(
    "a DescribeVirtualInterfaces nextToken on DescribeConnections",
    new DescribeConnectionsCommand({ nextToken: vifToken }),
    "DirectConnectClientException",
    400,
    "The nextToken is not valid for this request.",
  );

  // AWS's error texts (the ones terraform-provider-aws matches).
  await fails(
    "DescribeConnections of an unknown id",
    new DescribeConnectionsCommand({ connectionId: "dxcon-jsnone00" }),
    "DirectConnectClientException",
    400,
    "Could not find Connection with ID dxcon-jsnone00",
  );
  await fails(
    "DescribeLags of an unknown id",
    new DescribeLagsCommand({ lagId: "dxlag-jsnone00" }),
    "DirectConnectClientException",
    400,
    "Could not find Lag with ID dxlag-jsnone00",
  );
  await fails(
    "DescribeInterconnects of an unknown id",
    new DescribeInterconnectsCommand({ interconnectId: "dxcon-jsnone01" }),
    "DirectConnectClientException",
    400,
    "Could not find Interconnect with ID dxcon-jsnone01",
  );
  await fails(
    "DeleteBGPPeer of the last peer",
    new DeleteBGPPeerCommand({ virtualInterfaceId: "dxvif-js000010", bgpPeerId: "dxpeer-js000010" }),
    "DirectConnectClientException",
    400,
    "The last BGP Peer on a Virtual Interface cannot be deleted",
  );

  // Rate limit (CreateBGPPeer: burst 2, then 0.2 a second): two go through, the third is throttled.
  for (const n of ["01", "02"]) {
    const out = await dx.send(
      new CreateBGPPeerCommand({
        virtualInterfaceId: `dxvif-js0000${n}`,
        newBGPPeer: { asn: 64600, addressFamily: "ipv6" },
      }),
    );
    check(out.virtualInterface?.bgpPeers?.length === 2, `CreateBGPPeer within the burst (dxvif-js0000${n})`);
  }
  await fails(
    "a third CreateBGPPeer",
    new CreateBGPPeerCommand({ virtualInterfaceId: "dxvif-js000003", newBGPPeer: { asn: 64600, addressFamily: "ipv6" } }),
    "ThrottlingException",
    400,
    "Rate exceeded",
  );
  const vif3 = await dx.send(new DescribeVirtualInterfacesCommand({ virtualInterfaceId: "dxvif-js000003" }));
  check(vif3.virtualInterfaces?.[0]?.bgpPeers?.length === 1, "the throttled CreateBGPPeer changed nothing");
}

const worldFile = process.env.DXCTL_SIM_WORLD;
const fixture = worldFile ? JSON.parse(readFileSync(worldFile, "utf8")).conformanceFixture : "js";
try {
  if (fixture === "js") {
    await seedExample();
  } else if (fixture === "js-realism") {
    await realism();
  } else {
    throw new Error(`no JS checks for world fixture ${JSON.stringify(fixture)}`);
  }
} catch (err) {
  failures += 1;
  console.log(`FAIL unexpected error: ${err.name}: ${err.message}`);
}
if (failures > 0) {
  console.log(`${failures} check(s) failed`);
  process.exit(1);
}
console.log("all checks passed");
