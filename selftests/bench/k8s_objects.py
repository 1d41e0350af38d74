#!/usr/bin/env python3
"""Create many Pods (Running, with an IP, through the status subresource as a kubelet would),
Services and their EndpointSlices in a real API server, for selftests/bench/k8s_names.sh.

usage: k8s_objects.py API PKI_DIR NAMESPACE PODS SERVICES NODE
  PODS pods pod-0..; half on NODE, half on other nodes (node-other-0..9); IPs 10.60.x.y.
  SERVICES services svc-0.. (ClusterIP, allocated by the API server), each with one
  EndpointSlice listing PODS / SERVICES of the pods (targetRef and nodeName set).
Four threads, each with its own keep-alive HTTPS connection. Prints the time taken.
"""
import http.client
import json
import ssl
import sys
import threading
import time

api, pki, ns, npods, nsvcs, node = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), \
    int(sys.argv[5]), sys.argv[6]
host, port = api.split("//")[1].rsplit(":", 1)
ctx = ssl.create_default_context(cafile=pki + "/ca.crt")
ctx.load_cert_chain(pki + "/admin.crt", pki + "/admin.key")


def ip(i):
    return "10.60.%d.%d" % (i // 250, i % 250 + 1)


def pod_node(i):
    return node if i % 2 == 0 else "node-other-%d" % (i % 10)


class Client:
    def __init__(self):
        self.c = http.client.HTTPSConnection(host, int(port), context=ctx)

    def req(self, method, path, body, ctype="application/json"):
        self.c.request(method, path, json.dumps(body), {"Content-Type": ctype})
        r = self.c.getresponse()
        data = r.read()
        if r.status >= 300 and r.status != 409:
            raise SystemExit("%s %s: %d %s" % (method, path, r.status, data[:300]))


def pods(part, parts):
    c = Client()
    for i in range(part, npods, parts):
        name = "pod-%d" % i
        c.req("POST", "/api/v1/namespaces/%s/pods" % ns, {
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
            "spec": {"nodeName": pod_node(i), "automountServiceAccountToken": False,
                     "containers": [{"name": "c", "image": "registry.invalid/c:1"}]}})
        c.req("PATCH", "/api/v1/namespaces/%s/pods/%s/status" % (ns, name),
              {"status": {"phase": "Running", "podIP": ip(i), "podIPs": [{"ip": ip(i)}]}},
              "application/merge-patch+json")


def services(part, parts):
    c = Client()
    per = npods // nsvcs
    for s in range(part, nsvcs, parts):
        name = "svc-%d" % s
        c.req("POST", "/api/v1/namespaces/%s/services" % ns, {
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
            "spec": {"ports": [{"port": 80, "protocol": "TCP"}]}})
        eps = [{"addresses": [ip(i)], "conditions": {"ready": True}, "nodeName": pod_node(i),
                "targetRef": {"kind": "Pod", "name": "pod-%d" % i, "namespace": ns}}
               for i in range(s * per, (s + 1) * per)]
        c.req("POST", "/apis/discovery.k8s.io/v1/namespaces/%s/endpointslices" % ns, {
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name + "-1", "namespace": ns,
                         "labels": {"kubernetes.io/service-name": name}},
            "addressType": "IPv4", "ports": [{"port": 80, "protocol": "TCP"}],
            "endpoints": eps})


t0 = time.time()
for fn in (pods, services):
    ts = [threading.Thread(target=fn, args=(k, 4)) for k in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
print("created %d pods and %d services with their EndpointSlices in %.1f s" %
      (npods, nsvcs, time.time() - t0))
