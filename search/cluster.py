"""A local Sphinx/Manticore cluster: ``searchd`` configurations, start and stop on loopback.

``init_cluster(DIR, shards=N)`` writes one ``searchd`` configuration per node
(node k holds the real-time shard ``poisk_k``), each also serving the
distributed index ``poisk`` (its own shard ``local``, every other shard as an
``agent``), so a query to any node fans out to all shards. The settings are
the ones Sphinx 2.2.11 and Manticore share.

>>> import tempfile
>>> cluster = init_cluster(tempfile.mkdtemp() + "/c", shards=2, port=19306)
>>> cluster.url, [node.mysql_port for node in cluster.nodes]
('manticore://127.0.0.1:19306/poisk', [19306, 19307])
"""

import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass

from indexer.errors import PoiskError
from indexer.manticore import connect, parse_url

__all__ = ["Cluster", "Node", "add_lexicon_tables", "free_port_range", "init_cluster", "load_cluster",
           "register_shards",
           "start_cluster", "stop_cluster"]

DEFAULT_DIR = ".poisk-cluster"
DEFAULT_PORT = 9306
# A shard's RAM chunk (rt_mem_limit): when full it is written out as one more disk chunk, and
# every query searches every chunk. An article of bench.scale (13 KB of JSON) took 53 KB of a
# shard's RAM chunk (its stored text and offset tables, word lists; 3,475 articles): about
# 5,000 articles per 256M.
DEFAULT_MEMORY = "256M"
# Each node's pooled connections to each other shard (persistent_connections_limit): as many
# as the queries it may run at once; more queries than this open their own.
PERSISTENT = 16
CLUSTER_FILE = "cluster.json"
START_SECONDS = 15
STOP_SECONDS = 15

# Letters and digits, Cyrillic folded to lower case with ё -> е, and "_" (which
# joins the parts of a compound lemma, see indexer.manticore). Manticore's
# "non_cjk" alias would do the same but Sphinx 2.2 does not know it.
CHARSET_TABLE = ("0..9, A..Z->a..z, _, a..z, U+410..U+42F->U+430..U+44F, U+430..U+44F, "
                 "U+401->U+435, U+451->U+435")

# The words of the shard (indexer.manticore.lexicon_tokens), in rows of space-separated
# tokens written by `poisk index` (or `poisk cluster lexicon`), read once by each client.
LEXICON_INDEX = """index {shard}_lexicon
{{
    type = rt
    path = {data}/{shard}_lexicon
    rt_field = note
    rt_attr_string = words
}}

"""

SHARD_INDEX = """index {shard}
{{
    type = rt
    path = {data}/{shard}
    rt_field = headline
    rt_field = lead
    rt_field = body
    rt_field = headline_alt
    rt_field = body_alt
    rt_field = headline_forms
    rt_field = body_forms
    rt_field = meta
    rt_attr_uint = date_key
    rt_attr_string = doc_id
    rt_attr_string = headline_text
    rt_attr_string = body_text
    rt_attr_string = headline_offsets
    rt_attr_string = body_offsets
    rt_attr_string = source
    rt_attr_string = tags
    rt_attr_string = url
    rt_attr_string = content_hash
    rt_attr_string = regions
    rt_attr_string = districts
    rt_attr_string = industries
    dict = keywords
    min_prefix_len = 2
    charset_table = {charset}
    rt_mem_limit = {memory_mb}M
}}

{lexicon}index {name}_shards
{{
    type = rt
    path = {data}/{name}_shards
    rt_field = note
    rt_attr_string = shard
    rt_attr_string = address
}}

index {name}
{{
    type = distributed
    local = {shard}
{agents}
    agent_connect_timeout = 500
    agent_query_timeout = 10000
}}

searchd
{{
    listen = {host}:{mysql_port}:mysql41
    listen = {host}:{api_port}
    log = {data}/searchd.log
    query_log = {data}/query.log
    pid_file = {data}/searchd.pid
    binlog_path = {data}
    binlog_flush = 2
    max_packet_size = 128M
    workers = threads
    read_timeout = 5
    persistent_connections_limit = {persistent}
}}
"""


@dataclass(frozen=True)
class Node:
    """One ``searchd``: its shard, its SphinxQL port and its agent (API) port."""

    shard: str
    mysql_port: int
    api_port: int


@dataclass(frozen=True)
class Cluster:
    """A local cluster as ``cluster.json`` records it."""

    folder: str
    name: str
    host: str
    nodes: tuple

    @property
    def url(self):
        return f"manticore://{self.host}:{self.nodes[0].mysql_port}/{self.name}"

    def config(self, number):
        return os.path.join(self.folder, f"node{number}", "searchd.conf")

    def pid(self, number):
        """The node's searchd process id, or None when it is not running."""
        try:
            with open(os.path.join(self.folder, f"node{number}", "searchd.pid")) as f:
                pid = int(f.read().strip() or 0)
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rpartition(")")[2].split()[0]
        except (OSError, ValueError, IndexError):
            return None
        return None if state in ("Z", "X") else pid  # a killed node may linger as a zombie


def init_cluster(folder=DEFAULT_DIR, *, shards=2, port=DEFAULT_PORT, host="127.0.0.1",
                 name="poisk", memory=DEFAULT_MEMORY) -> Cluster:
    """Write the configurations of ``shards`` searchd nodes into ``folder``.

    Node k answers SphinxQL on ``port + k`` and agents on ``port + shards + k``;
    ``memory`` is each shard's RAM chunk (``rt_mem_limit``, as ``512M`` or ``2G``).
    """
    if not 1 <= shards <= 64:
        raise PoiskError("--shards must be 1..64")
    if not re.fullmatch(r"[1-9][0-9]*[MG]", memory):
        raise PoiskError(f"--memory {memory!r}: write a size in megabytes or gigabytes, as 512M or 2G")
    if os.path.exists(os.path.join(folder, CLUSTER_FILE)):
        raise PoiskError(f"{folder} already holds a cluster; start it with `poisk cluster "
                         "start` or choose another --dir")
    if os.path.isdir(folder) and os.listdir(folder):
        raise PoiskError(f"{folder} is not empty: choose an empty or new folder for the cluster")
    nodes = tuple(Node(f"{name}_{k}", port + k, port + shards + k) for k in range(shards))
    cluster = Cluster(os.path.abspath(folder), name, host, nodes)
    for number, node in enumerate(nodes):
        # Paths relative to the cluster folder (searchd runs there): the folder can move.
        data = f"node{number}"
        os.makedirs(os.path.join(cluster.folder, data), exist_ok=True)
        # Persistent agents: the node keeps its connections to the other shards open (searchd
        # CPU of a one-row distributed query on 10,000 articles 0.9-1.0 -> 0.6-0.8 ms, load 11-12).
        agents = "\n".join(f"    agent_persistent = {host}:{other.api_port}:{other.shard}"
                           for other in nodes if other is not node)
        with open(cluster.config(number), "w", encoding="utf-8") as f:
            f.write(SHARD_INDEX.format(shard=node.shard, data=data, charset=CHARSET_TABLE,
                                       lexicon=LEXICON_INDEX.format(shard=node.shard, data=data),
                                       name=name, agents=agents, host=host,
                                       memory_mb=_megabytes(memory), persistent=PERSISTENT,
                                       mysql_port=node.mysql_port, api_port=node.api_port))
    with open(os.path.join(cluster.folder, CLUSTER_FILE), "w", encoding="utf-8") as f:
        json.dump({"name": name, "host": host, "nodes": [asdict(n) for n in nodes]}, f,
                  indent=1)
    return cluster


def add_lexicon_tables(cluster: Cluster) -> list:
    """Give each node made by an older poisk its shard's lexicon table (``LEXICON_INDEX``);
    returns the numbers of the nodes whose configuration changed (a running one reads it
    when restarted)."""
    changed = []
    for number, node in enumerate(cluster.nodes):
        with open(cluster.config(number), encoding="utf-8") as f:
            text = f.read()
        if re.search(rf"^index {node.shard}_lexicon$", text, re.MULTILINE):
            continue
        at = text.index(f"index {cluster.name}_shards")
        block = LEXICON_INDEX.format(shard=node.shard, data=f"node{number}")
        with open(cluster.config(number), "w", encoding="utf-8") as f:
            f.write(text[:at] + block + text[at:])
        changed.append(number)
    return changed


def _megabytes(size):
    """``512M`` or ``2G`` in megabytes: Sphinx 2.2 reads no ``G`` (``rt_mem_limit = 1G`` is
    a warning in searchd.log, and the default of 128M stands).

    >>> _megabytes("2G"), _megabytes("512M")
    (2048, 512)
    """
    return int(size[:-1]) * (1024 if size.endswith("G") else 1)


def load_cluster(folder=DEFAULT_DIR) -> Cluster:
    """The cluster ``init_cluster`` wrote into ``folder``."""
    try:
        with open(os.path.join(folder, CLUSTER_FILE), encoding="utf-8") as f:
            data = json.load(f)
        nodes = tuple(Node(**n) for n in data["nodes"])
        return Cluster(os.path.abspath(folder), data["name"], data["host"], nodes)
    except FileNotFoundError:
        raise PoiskError(f"no cluster in {folder}: run `poisk cluster init` first") from None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise PoiskError(f"cannot read {folder}/{CLUSTER_FILE} ({error})") from None


def searchd_binary() -> str:
    """The searchd program (``$POISK_SEARCHD`` or on the PATH)."""
    found = os.environ.get("POISK_SEARCHD") or shutil.which("searchd")
    if not found:
        raise PoiskError("searchd not found: install Sphinx (`apt-get install sphinxsearch`) "
                         "or Manticore Search, or set POISK_SEARCHD")
    return found


def start_cluster(cluster: Cluster) -> list:
    """Start every node that is not running; returns the numbers of the nodes started."""
    started = []
    for number, node in enumerate(cluster.nodes):
        if cluster.pid(number) is None:
            _start_node(cluster, number)
            started.append(number)
    for number, node in enumerate(cluster.nodes):
        _wait_for_port(cluster, number)
    register_shards(cluster.url, [(n.shard, f"{cluster.host}:{n.mysql_port}")
                                  for n in cluster.nodes], every_node=cluster)
    return started


def _start_node(cluster, number):
    done = subprocess.run([searchd_binary(), "--config", cluster.config(number)],
                          capture_output=True, text=True, cwd=cluster.folder)
    if done.returncode != 0:
        lines = [ln for ln in (done.stdout + done.stderr).splitlines() if "FATAL" in ln
                 or "ERROR" in ln]
        raise PoiskError(f"searchd of node {number} did not start: "
                         f"{lines[-1] if lines else 'exit code ' + str(done.returncode)}")


def _wait_for_port(cluster, number):
    port = cluster.nodes[number].mysql_port
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        try:
            socket.create_connection((cluster.host, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise PoiskError(f"searchd of node {number} does not answer on {cluster.host}:{port}; "
                     f"see {os.path.dirname(cluster.config(number))}/searchd.log")


def register_shards(url: str, shards: list, every_node=None):
    """Record the shards (real-time index, ``host:port``) in ``NAME_shards`` at ``url``.

    ``every_node``: a local ``Cluster`` whose every node gets the list, so any
    node's address works for indexing.
    """
    target = parse_url(url)
    addresses = ([(target.host, target.port)] if every_node is None else
                 [(every_node.host, n.mysql_port) for n in every_node.nodes])
    rows = [(k + 1, "", shard, address) for k, (shard, address) in enumerate(shards)]
    for host, port in addresses:
        connection = connect(host, port, "searchd")
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"TRUNCATE RTINDEX {target.name}_shards")
                cursor.executemany(f"REPLACE INTO {target.name}_shards (id, note, shard, "
                                   "address) VALUES (%s, %s, %s, %s)", rows)
        finally:
            connection.close()


def stop_cluster(cluster: Cluster) -> list:
    """Stop every running node (SIGTERM, as ``searchd --stop``); returns the numbers stopped."""
    stopped = []
    for number in range(len(cluster.nodes)):
        pid = cluster.pid(number)
        if pid is None:
            continue
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        while cluster.pid(number) == pid and time.monotonic() < deadline:
            time.sleep(0.1)
        stopped.append(number)
    return stopped


def free_port_range(count, first=20000, last=60000):
    """The first of ``count`` consecutive loopback ports that are free now (for tests and bench).

    >>> 20000 <= free_port_range(4) < 60000
    True
    """
    for _ in range(200):
        base = random.randrange(first, last - count)
        sockets = [socket.socket() for _ in range(count)]
        try:
            for offset, s in enumerate(sockets):
                s.bind(("127.0.0.1", base + offset))
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError("no free loopback ports")
