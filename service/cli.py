"""The `paperlens` command: ingest, serve, worker, search, papers, config."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from tqdm import tqdm

from service.core.api_keys import ApiKeys
from service.core.config import Settings, get_settings
from service.core.errors import BadInput, PaperlensError
from service.core.redact import shown_setting
from service.schemas import SummaryAudience, SummaryLength

app = typer.Typer(help="paperlens: grounded answers about research papers.", no_args_is_help=True)


@app.callback()
def _check_settings() -> None:
    """Fail early, in words, on a bad PAPERLENS_* variable."""
    try:
        get_settings()
    except ValidationError as err:
        for e in err.errors():
            name = "PAPERLENS_" + "_".join(str(x) for x in e["loc"]).upper()
            typer.secho(f"error: {name}: {e['msg']}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=2) from None


def _fail(err: PaperlensError) -> None:
    typer.secho(f"error: {err.message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders of papers.")],
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="Only ingest when the store holds no papers.")
    ] = False,
) -> None:
    """Parse, chunk, embed and index papers (re-ingesting the same paper is a no-op).

    Each file goes in on its own: one that cannot be read is reported at the end and the
    rest are indexed. Exits 1 when any file failed."""
    from service.container import build_services
    from service.corpus.loader import expand_paths
    from service.ingest.file_ingest import FileResult, ingest_files
    from service.ingest.ingest_service import IngestReport

    try:
        services = build_services(get_settings(), with_llm=False)
        if if_empty and services.store.papers.count() > 0:
            typer.echo(f"store already holds {services.store.papers.count()} papers; skipping")
            return
        files = list(expand_paths(paths))
    except PaperlensError as err:
        _fail(err)
        return
    report, failed = IngestReport(), []
    with tqdm(total=len(files), unit="file", desc="ingest", disable=None) as bar:

        def on_file(result: FileResult) -> None:
            report.merge(result.report)
            if result.status == "failed":
                failed.append(result)
            bar.set_postfix_str(f"{Path(result.name).name[:40]} {result.status}", refresh=False)
            bar.update(1)

        ingest_files(services.ingest, [(str(f), f) for f in files], on_file)
    typer.echo(
        f"added {len(report.added)}, replaced {len(report.replaced)}, "
        f"unchanged {len(report.unchanged)} papers ({report.n_chunks} new chunks) from {len(files)} file(s)"
    )
    if failed:
        typer.secho(f"{len(failed)} file(s) failed:", fg=typer.colors.RED, err=True)
        width = max(len(r.name) for r in failed)
        for r in failed:
            typer.echo(f"  {r.name:<{width}}  {r.error}", err=True)
        raise typer.Exit(code=1)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address.")] = None,
    port: Annotated[int | None, typer.Option(help="Port.")] = None,
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs)."""
    import uvicorn

    from service.server.app import create_app
    from service.server.guards import is_loopback
    from service.server.observability import configure_logging

    settings = get_settings()
    bind = host or settings.host
    settings = settings.model_copy(update={"host": bind})
    if settings.api_keys_file is None and not settings.open_access and not is_loopback(bind):
        typer.secho(
            f"error: refusing to serve {bind} without API keys: set PAPERLENS_API_KEYS_FILE "
            "(and `paperlens keys add NAME`), or PAPERLENS_OPEN_ACCESS=true if open access is intended",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(code=2)
    configure_logging(settings.log_format)
    uvicorn.run(
        create_app(settings),
        host=bind,
        port=port or settings.port,
        log_config=None,  # keep the handlers configure_logging set (text or JSON)
        access_log=False,  # paperlens.access logs each request, with its id
        timeout_graceful_shutdown=settings.shutdown_grace_s,
    )


@app.command()
def worker(
    burst: Annotated[
        bool, typer.Option("--burst", help="Stop once the queue is empty (instead of waiting for more).")
    ] = False,
    name: Annotated[str | None, typer.Option(help="This worker's name (default: host and pid).")] = None,
) -> None:
    """Index uploaded files from the shared queue (PAPERLENS_QUEUE_URL), one at a time.

    Run any number, on any machine that reaches Redis and the store; a file whose worker
    dies is retried by another. SIGTERM lets the file being indexed finish first."""
    from service.container import build_services
    from service.ingest.shared_jobs import run_worker
    from service.server.observability import configure_logging

    settings = get_settings()
    if not settings.queue_url:
        _fail(
            BadInput(
                "`paperlens worker` takes ingest jobs from a shared queue: set PAPERLENS_QUEUE_URL "
                "(e.g. redis://127.0.0.1:6379/0) here and on every `paperlens serve` replica"
            )
        )
        return
    configure_logging(settings.log_format)
    try:
        services = build_services(settings, with_llm=False)
    except PaperlensError as err:
        _fail(err)
        return
    run_worker(
        services.ingest,
        services.parser.parse,
        settings,
        burst=burst,
        name=name,
        on_ready=lambda: typer.echo("paperlens worker: ready", err=True),
    )


keys_app = typer.Typer(help="API keys (kept hashed in PAPERLENS_API_KEYS_FILE).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


def _keys() -> ApiKeys:
    settings = get_settings()
    if settings.api_keys_file is None:
        typer.secho(
            "error: set PAPERLENS_API_KEYS_FILE to the keys file first", fg=typer.colors.RED, err=True
        )
        raise typer.Exit(code=2)
    return ApiKeys(settings.api_keys_file)


@keys_app.command("add")
def keys_add(
    name: Annotated[str, typer.Argument(help="A name for the key (who or what uses it).")],
    scope: Annotated[
        str, typer.Option(help="read (search, ask, summaries, compare) or write (everything).")
    ] = "read",
) -> None:
    """Make a key and print it once (only its hash is stored)."""
    if scope not in ("read", "write"):
        _fail(BadInput("--scope is read or write"))
    try:
        key = _keys().add(name, "write" if scope == "write" else "read")
    except PaperlensError as err:
        _fail(err)
    typer.echo(key)
    typer.echo(
        f"(key {name!r}, scope {scope}: shown once; send it as 'Authorization: Bearer <key>')", err=True
    )


@keys_app.command("list")
def keys_list() -> None:
    """Names, scopes and creation times (never the keys)."""
    try:
        records = _keys().list()
    except PaperlensError as err:
        _fail(err)
        return
    for r in records:
        typer.echo(f"{r.name}\t{r.scope}\t{r.created}")


@keys_app.command("revoke")
def keys_revoke(name: Annotated[str, typer.Argument(help="The key's name.")]) -> None:
    """Remove a key; a running server stops accepting it at once."""
    try:
        _keys().revoke(name)
    except PaperlensError as err:
        _fail(err)
    typer.echo(f"revoked {name}")


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    k: Annotated[int, typer.Option("-k", help="How many passages.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print the best passages for a query."""
    from service.container import build_services
    from service.retrieval.request_check import QueryKind
    from service.schemas import SearchHit

    try:
        services = build_services(get_settings(), with_llm=False)
        checked = services.check.query(QueryKind.SEARCH, query, k)  # the same limits as /search
        passages = services.retriever.search(checked.text, checked.k)
    except PaperlensError as err:
        _fail(err)
        return
    if as_json:
        hits = [SearchHit.model_validate(p, from_attributes=True) for p in passages]
        typer.echo(json.dumps([h.model_dump() for h in hits], indent=2))
        return
    for i, p in enumerate(passages, start=1):
        typer.echo(f"{i}. [{p.paper_id}] {p.title}  (score {p.score:.4f})")
        typer.echo(f"   {p.text[:300]}{'...' if len(p.text) > 300 else ''}\n")


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="A question about the indexed papers.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole response as JSON.")] = False,
) -> None:
    """Answer a question from the indexed papers, with citations."""
    from service.container import build_services
    from service.schemas import AskIn

    try:
        result = build_services(get_settings()).ask.ask(AskIn(question=question))
    except PaperlensError as err:
        _fail(err)
        return
    if as_json:
        from service.server.responses import ask_out

        typer.echo(ask_out(result).model_dump_json(indent=2))
        return
    typer.echo(result.answer)
    for c in result.citations:
        where = ", ".join(x for x in (f"p. {c.page}" if c.page else "", c.section or "") if x)
        typer.echo(f'  [{c.n}] {c.title}{f" ({where})" if where else ""}: "{c.quote}"')
    typer.echo(f"({result.engine}{', degraded' if result.degraded else ''}, {result.model})", err=True)


@app.command()
def summary(
    paper_id: Annotated[str, typer.Argument(help="A paper id (see `paperlens papers`).")],
    refresh: Annotated[bool, typer.Option("--refresh", help="Regenerate, ignoring the cache.")] = False,
    audience: Annotated[
        SummaryAudience, typer.Option(help="general: a reader outside the field; expert: one in it.")
    ] = "general",
    length: Annotated[
        SummaryLength, typer.Option(help="paragraph (90-160 words) or tldr (one sentence).")
    ] = ("paragraph"),
) -> None:
    """A one-paragraph (or one-sentence) summary of a paper, with the sentences it rests on."""
    from service.answering.summary_service import SummaryOptions
    from service.container import build_services

    try:
        options = SummaryOptions(audience, length)
        result = build_services(get_settings()).summary.summary(paper_id, refresh, options)
    except PaperlensError as err:
        _fail(err)
        return
    typer.echo(result.summary)
    for c in result.sources:
        where = ", ".join(x for x in (f"p. {c.page}" if c.page else "", c.section or "") if x)
        typer.echo(f'  [{c.n}]{f" ({where})" if where else ""}: "{c.quote}"')


@app.command()
def papers(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the indexed papers."""
    from service.container import build_services

    try:
        services = build_services(get_settings(), with_llm=False)
        rows = services.store.papers.page(0, max(services.store.papers.count(), 1))
    except PaperlensError as err:
        _fail(err)
        return
    if as_json:
        typer.echo(
            json.dumps([{"id": p.id, "title": p.title, "n_chunks": p.n_chunks} for p in rows], indent=2)
        )
        return
    for p in rows:
        typer.echo(f"{p.id}\t{p.n_chunks}\t{p.title}")
    typer.echo(f"{len(rows)} papers", err=True)


@app.command()
def config(
    markdown: Annotated[bool, typer.Option("--markdown", help="Print the README table.")] = False,
) -> None:
    """Print every setting: environment variable, current value, description."""
    current = get_settings()
    if markdown:
        sys.stdout.write("| variable | default | what it does |\n|---|---|---|\n")
    for name, field in Settings.model_fields.items():
        if markdown:
            default = readme_default(name, field.default)
            sys.stdout.write(f"| `PAPERLENS_{name.upper()}` | {default} | {field.description} |\n")
            continue
        value = shown_setting(name, getattr(current, name))  # secrets and URL passwords as ****
        sys.stdout.write(f"PAPERLENS_{name.upper()}={value}\n")
        sys.stdout.write(f"    {field.description}\n")


def readme_default(name: str, default: object) -> str:
    """A default as the README shows it: `unset`, `./data`, JSON for lists."""
    if default is None:
        return "unset"
    if name == "prompts_dir":
        return "`./prompts` (next to `service/`)"
    if isinstance(default, Path):
        return f"`./{default}`"
    if isinstance(default, list):
        return f"`{json.dumps(default)}`"
    return f"`{default}`"


if __name__ == "__main__":
    app()
