#!/usr/bin/python3
"""Generates estates for the planner's benchmark (tests/bench/plan.sh) and the estate
scenario (tests/scenario/lab_estate.sh). Python 3 standard library only.

  plan_gen.py estate DIR RESOURCES --clusters C [--hubs H] [--k K]
      DIR/lab.yaml: H Hub Transport / Client Access servers (HUB1 also a domain
      controller) and C CCR clusters CLUSi (NODE2i-1 active, NODE2i passive), each with its
      own "Cluster Group" and clustered mailbox server CMSi, all at Exchange 2007 RTM.
      DIR/manifest.yaml: every server and CMS to SP1, as manifests/exchange2007-estate-sp1.yaml
      does, the clusters one for_each list; max_disrupted K of mailbox (default: 10% of the
      mailbox nodes, at least 1).
  plan_gen.py tier DIR RESOURCES --nodes N [--k K]
      DIR/manifest.yaml: N web nodes (local transport, roots DIR/roots/webI, created empty)
      rolled to a release as manifests/rolling-web-tier.yaml does, max_disrupted K of web
      (default: 10% of the nodes).

RESOURCES is the repository's resources/ directory (the manifests include its types).
"""

import argparse
import os


def estate(d, resources, clusters, hubs, k):
    mailbox = 2 * clusters
    k = k or max(1, mailbox // 10)
    lab = ["apiVersion: converge/v1", "kind: Lab",
           "metadata: {name: estate-%d, description: generated estate}" % clusters,
           'options: {epoch: "2008-03-01T08:00:00Z", dotnet_sp1_leaves_reboot_pending: true}',
           "nodes:"]
    for h in range(1, hubs + 1):
        roles = "[domain_controller, hub_transport, client_access]" if h == 1 else "[hub_transport, client_access]"
        lab += ["  HUB%d:" % h, "    roles: %s" % roles, "    dotnet: SP1", "    exchange: RTM",
                "    services:",
                "      SharedAccess: {state: running, startup: automatic}",
                "      RemoteRegistry: {state: running, startup: automatic}"]
    for c in range(1, clusters + 1):
        for n, firewall in ((2 * c - 1, "manual"), (2 * c, "disabled")):
            lab += ["  NODE%d:" % n, "    roles: [mailbox]", "    cluster: CLUS%d" % c,
                    "    dotnet: RTM", "    exchange: RTM", "    services:",
                    "      MOM: {state: running, startup: automatic}",
                    "      FSCController: {state: running, startup: automatic}",
                    "      SysmonLog: {state: running, startup: automatic}",
                    "      RemoteRegistry: {state: running, startup: automatic}",
                    "      SharedAccess: {state: stopped, startup: %s}" % firewall]
    lab.append("clusters:")
    for c in range(1, clusters + 1):
        lab += ["  CLUS%d:" % c, "    groups:",
                "      Cluster Group: {owner: NODE%d, online: true}" % (2 * c - 1),
                "      CMS%d:" % c, "        type: clustered_mailbox_server",
                "        owner: NODE%d" % (2 * c - 1), "        online: true", "        version: RTM",
                "        databases:",
                "          - {name: Mailbox Database, storage_group: First Storage Group, last_full_backup_age: 2h}"]
    lab.append("faults: []")
    with open(os.path.join(d, "lab.yaml"), "w") as f:
        f.write("\n".join(lab) + "\n")
    m = ["apiVersion: converge/v1", "kind: Manifest",
         "metadata: {name: estate-%d}" % clusters,
         "include: [%s/windows.yaml, %s/exchange2007.yaml]" % (resources, resources),
         "vars:", "  clusters:"]
    for c in range(1, clusters + 1):
        m.append("    CLUS%d: {cms: CMS%d, active: NODE%d}" % (c, c, 2 * c - 1))
    m += ["inventory:", "  transport: {lab: lab.yaml}", "  nodes:"]
    for h in range(1, hubs + 1):
        m.append("    HUB%d: {roles: [hub_transport, client_access]}" % h)
    for n in range(1, mailbox + 1):
        m.append("    NODE%d: {cluster: CLUS%d, roles: [mailbox]}" % (n, (n + 1) // 2))
    m += ["  groups:",
          "    hubcas: [%s]" % ", ".join("HUB%d" % h for h in range(1, hubs + 1)),
          "    mailbox: [%s]" % ", ".join("NODE%d" % n for n in range(1, mailbox + 1)),
          "resources:",
          '  - {type: dotnet, name: "2.0", on: mailbox, properties: {servicepack: 1}}',
          "  - {type: exchange_server, name: exchange, on: [hubcas, mailbox], properties: {version: SP1}}",
          "  - {type: reboot, name: host, on: [hubcas, mailbox], properties: {pending: false}}",
          "  - type: clustered_mailbox_server",
          "    for_each: ${vars.clusters}",
          "    name: ${each.value.cms}",
          "    on: ${each.key}",
          '    properties: {version: SP1, owner: "${each.value.active}", online: true}',
          "  - type: cluster_group",
          "    for_each: ${vars.clusters}",
          "    name: Cluster Group",
          "    on: ${each.key}",
          '    properties: {owner: "${each.value.active}"}',
          "  - type: service",
          "    name: ${each.value}",
          "    for_each: [SharedAccess, MOM, FSCController, SysmonLog, RemoteRegistry]",
          "    on: mailbox",
          "    properties: {state: prior, startup: prior}",
          "constraints:",
          "  - {order: [hubcas, mailbox]}",
          "  - {max_disrupted: %d, of: mailbox}" % k,
          '  - {available: "clustered_mailbox_server[*]", outage_budget: 30m}',
          "  - {available: Cluster Group}",
          "  - {precondition: full_backup, max_age: 24h}",
          "  - {halt_after_failures: 1}"]
    with open(os.path.join(d, "manifest.yaml"), "w") as f:
        f.write("\n".join(m) + "\n")


def tier(d, resources, nodes, k):
    k = k or max(1, nodes // 10)
    m = ["apiVersion: converge/v1", "kind: Manifest", "metadata: {name: tier-%d}" % nodes,
         "include: [%s/linux.yaml]" % resources, 'vars: {release: "2024.06.1"}',
         "inventory:", "  transport: {local: {}}", "  nodes:"]
    for i in range(1, nodes + 1):
        root = os.path.join(d, "roots", "web%d" % i)
        os.makedirs(root, exist_ok=True)
        m.append("    web%d: {root: %s}" % (i, root))
    m += ["  groups:", "    web: [%s]" % ", ".join("web%d" % i for i in range(1, nodes + 1)),
          "resources:",
          '  - {type: web_release, name: shop, on: web, properties: {version: "${vars.release}"}}',
          "  - {type: lb_member, name: shop, on: web, properties: {enabled: true}}",
          "constraints:",
          "  - {max_disrupted: %d, of: web}" % k,
          "  - {halt_after_failures: 1}"]
    with open(os.path.join(d, "manifest.yaml"), "w") as f:
        f.write("\n".join(m) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["estate", "tier"])
    ap.add_argument("dir")
    ap.add_argument("resources")
    ap.add_argument("--clusters", type=int, default=3)
    ap.add_argument("--hubs", type=int, default=2)
    ap.add_argument("--nodes", type=int, default=100)
    ap.add_argument("--k", type=int, default=0)
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    resources = os.path.abspath(a.resources)
    if a.what == "estate":
        estate(a.dir, resources, a.clusters, a.hubs, a.k)
    else:
        tier(a.dir, resources, a.nodes, a.k)


if __name__ == "__main__":
    main()
