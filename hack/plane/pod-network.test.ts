import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  cniConfig,
  isolationRule,
  podAddresses,
  podNetworkAt,
  ruleNumbersWithComment,
  serviceRule,
} from "./pod-network.ts";
import { registryConfig } from "./registry.ts";

describe("the local Pod network", () => {
  const net = podNetworkAt(2, 6443);
  test("slot n is a /24 of 10.244.128.0/17, outside the kwok node's range, its first address the node's", () => {
    assert.deepEqual(net, {
      bridge: "cpa-pods2",
      cidr: "10.244.130.0/24",
      gateway: "10.244.130.1",
      apiPort: 6443,
    });
    assert.equal(podNetworkAt(127, 1).cidr, "10.244.255.0/24");
  });
  test("Pods get .2 to .254", () => {
    const all = podAddresses(net);
    assert.equal(all.length, 253);
    assert.equal(all[0], "10.244.130.2");
    assert.equal(all.at(-1), "10.244.130.254");
  });
  test("podman's CNI bridge on that bridge, with no masquerade", () => {
    const conf = cniConfig(net, "/ipam") as { name: string; plugins: Record<string, unknown>[] };
    assert.equal(conf.name, "cpa-pods2");
    const [bridge] = conf.plugins;
    assert.ok(bridge);
    assert.equal(bridge["bridge"], "cpa-pods2");
    assert.equal(bridge["ipMasq"], false);
    // The plugin would turn on IP forwarding for the whole machine as a gateway: the address is ours.
    assert.equal(bridge["isGateway"], false);
    assert.deepEqual((bridge["ipam"] as { ranges: unknown }).ranges, [
      [{ subnet: "10.244.130.0/24", gateway: "10.244.130.1" }],
    ]);
  });
  test("the kubernetes Service: 10.96.0.1:443 from the bridge to the apiserver on loopback", () => {
    const rule = serviceRule(net).join(" ");
    assert.match(rule, /^PREROUTING -t nat -i cpa-pods2 -d 10\.96\.0\.1\/32 -p tcp --dport 443 /);
    assert.match(rule, /-j DNAT --to-destination 127\.0\.0\.1:6443$/);
  });

  test("nothing is forwarded from the bridge to another interface", () => {
    assert.match(isolationRule(net).join(" "), /^FORWARD -i cpa-pods2 ! -o cpa-pods2 .* -j DROP$/);
  });
});

describe("the local registry's configuration", () => {
  test("on 127.0.0.1 only, storing under the plane", () => {
    const conf = registryConfig(5001, "/state/registry/storage");
    assert.match(conf, /^ {2}addr: 127\.0\.0\.1:5001$/m);
    assert.match(conf, /^ {4}rootdirectory: \/state\/registry\/storage$/m);
  });

  test("the rules a killed plane left for a bridge are found by their comment, highest number first", () => {
    const listing = [
      "Chain PREROUTING (policy ACCEPT)",
      "num  target     prot opt source               destination",
      "1    DNAT       6    --  0.0.0.0/0            10.96.0.1            /* cpa local plane: the kubernetes Service of cpa-pods0 */ tcp dpt:443 to:127.0.0.1:34715",
      "2    DNAT       6    --  0.0.0.0/0            10.96.0.1            /* cpa local plane: the kubernetes Service of cpa-pods1 */ tcp dpt:443 to:127.0.0.1:4000",
      "3    DNAT       6    --  0.0.0.0/0            10.96.0.1            /* cpa local plane: the kubernetes Service of cpa-pods0 */ tcp dpt:443 to:127.0.0.1:5000",
    ].join("\n");
    assert.deepEqual(
      ruleNumbersWithComment(listing, "cpa local plane: the kubernetes Service of cpa-pods0"),
      [3, 1],
    );
    assert.deepEqual(
      ruleNumbersWithComment(listing, "cpa local plane: the kubernetes Service of cpa-pods12"),
      [],
    );
  });
});
