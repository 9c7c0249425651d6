"""``poisk cluster init|start|stop|register|lexicon``: a local Sphinx/Manticore cluster for a ``manticore://`` index.

A ``PoiskError`` becomes ``Error: ...`` and exit 1 in ``search.cli.PoiskGroup``, as for
every command.
"""

import click

from indexer import INDEX_ENV_VAR
from indexer.manticore import is_engine_url

from search.cluster import (
    DEFAULT_DIR, DEFAULT_MEMORY, DEFAULT_PORT, add_lexicon_tables, init_cluster, load_cluster,
    register_shards, start_cluster, stop_cluster)

dir_option = click.option("--dir", "folder", default=DEFAULT_DIR, show_default=True,
                          metavar="DIR", help="Folder of the cluster's configurations and data.")


@click.group("cluster")
def cluster_group():
    """Run poisk on a distributed Sphinx/Manticore index (searchd servers on this machine)."""


@cluster_group.command("init")
@click.option("--shards", type=click.IntRange(1, 64), default=2, show_default=True,
              help="Real-time shards, one searchd server each.")
@dir_option
@click.option("--port", type=click.IntRange(1, 65535 - 128), default=DEFAULT_PORT,
              show_default=True, help="SphinxQL port of the first server (the others follow).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--memory", default=DEFAULT_MEMORY, show_default=True, metavar="SIZE",
              help="Each shard's RAM chunk (rt_mem_limit); a full one becomes a disk chunk.")
def init_command(shards, folder, port, host, memory):
    """Write the searchd configurations of a new cluster."""
    try:
        cluster = init_cluster(folder, shards=shards, port=port, host=host, memory=memory)
    except OSError as error:  # a folder that cannot be written (a PoiskError needs no help)
        raise click.ClickException(f"cannot write the cluster into {folder}: {error}") from None
    click.echo(f"{shards} shards in {cluster.folder}; start them with `poisk cluster start`; "
               f"the index is {cluster.url}")


@cluster_group.command("start")
@dir_option
def start_command(folder):
    """Start the cluster's searchd servers (those not running)."""
    cluster = load_cluster(folder)
    started = start_cluster(cluster)
    click.echo(f"{len(started)} started, {len(cluster.nodes) - len(started)} already running; "
               f"index: {cluster.url}")


@cluster_group.command("stop")
@dir_option
def stop_command(folder):
    """Stop the cluster's searchd servers."""
    stopped = stop_cluster(load_cluster(folder))
    click.echo(f"{len(stopped)} stopped")


@cluster_group.command("register")
@click.argument("url")
@click.argument("shards", nargs=-1, required=True, metavar="INDEX@HOST:PORT...")
def register_command(url, shards):
    """Tell an existing cluster's node at URL where its shards take writes.

    \b
    Example:
      poisk cluster register manticore://10.0.0.1:9306/poisk \\
          poisk_0@10.0.0.1:9306 poisk_1@10.0.0.2:9306
    """
    pairs = [shard.partition("@")[::2] for shard in shards]
    if any(not name or ":" not in address for name, address in pairs):
        raise click.UsageError("write each shard as INDEX@HOST:PORT")
    register_shards(url, pairs)
    click.echo(f"{len(pairs)} shards registered at {url}")


@cluster_group.command("lexicon")
@click.option("--dir", "folder", metavar="DIR",
              help="A local cluster's folder: nodes made without lexicon tables get them "
                   "(and are restarted).")
@click.option("--index", "url", envvar=INDEX_ENV_VAR, metavar="URL",
              help=f"Or the index URL of any cluster (default: ${INDEX_ENV_VAR}).")
def lexicon_command(folder, url):
    """Make each shard's lexicon again from the articles it holds.

    Clients find typos' spellings in the lexicons, which `poisk index` keeps up to
    date; a cluster indexed by an older poisk needs this once. Run it while nothing
    indexes.
    """
    from indexer.shards import fill_lexicon

    if folder:
        cluster = load_cluster(folder)
        running = [n for n in range(len(cluster.nodes)) if cluster.pid(n) is not None]
        if add_lexicon_tables(cluster):
            stop_cluster(cluster)
        start_cluster(cluster)
        try:
            counts = fill_lexicon(cluster.url)
        finally:
            if not running:  # as it was found
                stop_cluster(cluster)
    elif url and is_engine_url(url):
        counts = fill_lexicon(url)
    else:
        raise click.UsageError("give --dir DIR (a local cluster) or --index "
                               "manticore://HOST:PORT/NAME")
    click.echo(f"{len(counts)} shards, {', '.join(map(str, counts))} words in their lexicons")
