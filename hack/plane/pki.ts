import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { LOCAL_NODE_NAME } from "./config.ts";
import { PlaneError } from "./errors.ts";
import { KUBERNETES_SERVICE_IP } from "./pod-network.ts";

/** Paths of everything the control plane's PKI holds. */
export interface Pki {
  dir: string;
  caCert: string;
  caKey: string;
  serviceAccountKey: string;
  serviceAccountPub: string;
  frontProxyCaCert: string;
  cert: (name: string) => { cert: string; key: string };
}

interface Leaf {
  name: string;
  subject: string;
  ca?: "ca" | "front-proxy-ca";
  altNames?: string[];
}

/** The identities of the plane: one client certificate each, plus the apiserver's serving cert. */
export const LEAVES: readonly Leaf[] = [
  {
    name: "apiserver",
    subject: "/CN=kube-apiserver",
    altNames: [
      "IP:127.0.0.1",
      // The `kubernetes` Service, as Pods on the local node reach the apiserver (pod-network.ts).
      `IP:${KUBERNETES_SERVICE_IP}`,
      "DNS:localhost",
      "DNS:kubernetes",
      "DNS:kubernetes.default",
      "DNS:kubernetes.default.svc",
      "DNS:kubernetes.default.svc.cluster.local",
    ],
  },
  { name: "admin", subject: "/O=system:masters/CN=cpa-admin" },
  { name: "controller-manager", subject: "/CN=system:kube-controller-manager" },
  { name: "scheduler", subject: "/CN=system:kube-scheduler" },
  // kwok plays every kubelet; it needs to write node and pod status for any node.
  { name: "kwok", subject: "/O=system:masters/CN=kwok-controller" },
  { name: "front-proxy-client", subject: "/CN=front-proxy-client", ca: "front-proxy-ca" },
  // The apiserver's identity when it calls a kubelet (bound to system:kubelet-api-admin, as kubeadm does).
  { name: "apiserver-kubelet-client", subject: "/CN=kube-apiserver-kubelet-client" },
];

/** The local kubelet's serving certificate, for the node's address, which the apiserver checks. */
export function kubeletLeaves(nodeIp: string): Leaf[] {
  return [
    {
      name: "kubelet",
      subject: `/O=system:nodes/CN=system:node:${LOCAL_NODE_NAME}`,
      // Loopback too: where the node is when Pods run as local processes, without a Pod network.
      altNames: [...new Set([`IP:${nodeIp}`, "IP:127.0.0.1"])].concat(`DNS:${LOCAL_NODE_NAME}`),
    },
  ];
}

export function checkOpenssl(): void {
  const res = spawnSync("openssl", ["version"], { encoding: "utf8" });
  if (res.error || res.status !== 0) {
    throw new PlaneError(
      "openssl is not installed: the test control plane needs it to make its certificates. " +
        "Install it (Debian/Ubuntu: apt-get install openssl).",
    );
  }
}

export function createPki(dir: string, extra: readonly Leaf[] = []): Pki {
  mkdirSync(dir, { recursive: true });
  const p = (f: string): string => join(dir, f);
  const openssl = (...args: string[]): void => {
    execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  };
  const caConfig = p("ca.cnf");
  writeFileSync(
    caConfig,
    [
      "[req]",
      "distinguished_name = dn",
      "[dn]",
      "[ca]",
      "basicConstraints = critical, CA:TRUE",
      "keyUsage = critical, keyCertSign, cRLSign, digitalSignature",
      "subjectKeyIdentifier = hash",
      "",
    ].join("\n"),
  );
  const ecKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  for (const ca of ["ca", "front-proxy-ca"]) {
    openssl(
      "req",
      "-x509",
      "-new",
      ...ecKey,
      "-config",
      caConfig,
      "-extensions",
      "ca",
      "-subj",
      `/CN=cpa-test-${ca}`,
      "-days",
      "3650",
      "-keyout",
      `${ca}.key`,
      "-out",
      `${ca}.crt`,
    );
  }
  for (const leaf of [...LEAVES, ...extra]) {
    const ca = leaf.ca ?? "ca";
    const ext = p(`${leaf.name}.ext`);
    writeFileSync(
      ext,
      [
        "basicConstraints = CA:FALSE",
        "keyUsage = critical, digitalSignature, keyEncipherment",
        "extendedKeyUsage = serverAuth, clientAuth",
        ...(leaf.altNames ? [`subjectAltName = ${leaf.altNames.join(", ")}`] : []),
        "",
      ].join("\n"),
    );
    openssl(
      "req",
      "-new",
      ...ecKey,
      "-config",
      caConfig,
      "-subj",
      leaf.subject,
      "-keyout",
      `${leaf.name}.key`,
      "-out",
      `${leaf.name}.csr`,
    );
    openssl(
      "x509",
      "-req",
      "-in",
      `${leaf.name}.csr`,
      "-CA",
      `${ca}.crt`,
      "-CAkey",
      `${ca}.key`,
      "-CAcreateserial",
      "-days",
      "3650",
      "-extfile",
      ext,
      "-out",
      `${leaf.name}.crt`,
    );
  }
  openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "sa.key");
  openssl("pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub");
  return {
    dir,
    caCert: p("ca.crt"),
    caKey: p("ca.key"),
    serviceAccountKey: p("sa.key"),
    serviceAccountPub: p("sa.pub"),
    frontProxyCaCert: p("front-proxy-ca.crt"),
    cert: (name) => ({ cert: p(`${name}.crt`), key: p(`${name}.key`) }),
  };
}

/** A kubeconfig with the credentials embedded, so it can be copied anywhere. */
export function kubeconfigYaml(server: string, pki: Pki, identity: string): string {
  const b64 = (f: string): string => readFileSync(f).toString("base64");
  const { cert, key } = pki.cert(identity);
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "cpa-test", cluster: { server, "certificate-authority-data": b64(pki.caCert) } }],
    users: [{ name: identity, user: { "client-certificate-data": b64(cert), "client-key-data": b64(key) } }],
    contexts: [{ name: "cpa-test", context: { cluster: "cpa-test", user: identity, namespace: "default" } }],
    "current-context": "cpa-test",
  });
}
