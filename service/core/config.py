"""The one settings object. Every knob is an environment variable `PAPERLENS_<NAME>`.

`paperlens config` prints this table with current values; the README's configuration
table is generated from the same field descriptions.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class InjectionSettings(BaseModel):
    """The instruction detector's bars (`evidence/injection.py`): how much a sentence must
    read as an instruction to a model before it is kept out of what the model sees, and
    when an output did what such a sentence asked (`PAPERLENS_GROUNDING__INJECTION__<NAME>`).
    Chosen on the injection suites' dev halves and clean papers (docs/injection.md)."""

    flag_score: float = Field(
        2.0, gt=0, description="Score (see `instruction_score`) at which a sentence is an instruction."
    )
    whole_text_flag_score: float = Field(
        1.5,
        gt=0,
        description="The bar where a whole text is shown (summary, compare): a sentence kept out costs "
        "little there; 1.5 takes 6 of 15,991 sentences of clean papers outside their reference lists, "
        "against 0 at 2.0 (`evals.injection_eval`).",
    )
    outliers: int = Field(
        2, ge=0, description="The least central sentences of a text that may be off its topic."
    )
    outlier_centrality: float = Field(
        0.3, description="Below this cosine to the rest of its text a sentence is off the text's topic."
    )
    outlier_score: float = Field(
        0.5, ge=0, description="What being off the topic adds to a sentence that already scores above 0."
    )
    min_outlier_sentences: int = Field(4, ge=2, description="A shorter text has no topic to be off.")
    neighbour_score: float = Field(
        1.0, ge=0, description="A sentence next to an instruction that scores this much continues it."
    )
    mention_frame_words: int = Field(
        4, ge=0, description="A quote inside this many words of its own sentence is mentioned, not used."
    )
    min_learned_chars: int = Field(
        24, ge=1, description="Shorter learned text (letters and digits) is not matched inside another."
    )
    weak_payload_words: int = Field(
        2, ge=1, description="An output holding this many of an instruction's own words did what it asked."
    )


class GroundingSettings(BaseModel):
    """Thresholds of evidence selection and of the checks after the LLM call, in one place so
    evaluations can sweep them (`PAPERLENS_GROUNDING__<NAME>`). The rule families that did not
    pay on held-out questions were deleted with their thresholds (docs/answering.md)."""

    support_threshold: float = Field(
        0.55,
        ge=0,
        le=1,
        description="Least embedding similarity between an answer sentence and its evidence "
        "for the sentence to count as supported.",
    )
    lexical_weight: float = Field(
        0.25,
        ge=0,
        le=2,
        description="Weight of the question's content words an evidence sentence holds, beside the "
        "embedding cosine, in the sentence's score.",
    )
    per_paper_share: float = Field(
        0.84,
        gt=0,
        le=1,
        description="Most share of an answer's evidence sentences one paper may fill (5 of 6).",
    )
    multi_paper_share: float = Field(
        0.67, gt=0, le=1, description="The same for a question about several named papers (4 of 6)."
    )
    containment_support: float = Field(
        0.7,
        gt=0,
        le=1,
        description="Share of a claim's content words that, held by one evidence sentence, makes it "
        "support the claim whatever their cosine (a near copy).",
    )
    number_anchor_containment: float = Field(
        0.5,
        gt=0,
        le=1,
        description="A claim whose numbers all occur in one evidence sentence rests on it when that "
        "sentence holds this share of the claim's content words.",
    )
    pointer_match: float = Field(
        0.75,
        gt=0,
        le=1,
        description="A reply that only points at evidence ('[2].') answers with those sentences when "
        "they hold this share of the question's words.",
    )
    loop_words: int = Field(
        8,
        ge=3,
        le=50,
        description="A run of this many words said twice in one sentence is a generation loop.",
    )
    recite_share: float = Field(
        0.4,
        gt=0,
        le=1,
        description="An answer whose added words its cited sentence lacks is cited to the same paper's "
        "sentence holding them and at least this share of the answer's words.",
    )
    front_prior: float = Field(
        -0.15,
        ge=-1,
        le=1,
        description="Added to the score of an evidence sentence from a paper's front matter (affiliations, "
        "correspondence, licence lines), so the body (methods, results, discussion) comes first.",
    )
    short_label_words: int = Field(
        4,
        ge=1,
        le=20,
        description="A title's head of at most this many words, each opening with a capital or a digit, "
        "names its paper in the prompt ('Octo-planner') instead of the whole title.",
    )
    title_case_share: float = Field(
        0.4,
        gt=0,
        le=1,
        description="A question counts as written in Title Case when more than this share of its words "
        "of four letters or more open with a capital; its capitals then mark no names.",
    )
    inflection_letters: int = Field(
        2,
        ge=0,
        le=5,
        description="Letters a name of the question may differ by at its end and still be found in the "
        "evidence ('terminus' / 'terminal'; names of seven letters or more).",
    )
    acronym_text_chars: int = Field(
        600,
        ge=1,
        description="Longest text (a sentence or a title, not a paper) whose consecutive words' initials "
        "may spell out an acronym of the question.",
    )
    injection: InjectionSettings = Field(
        default_factory=InjectionSettings, description="The instruction detector's bars."
    )


class QuestionSettings(BaseModel):
    """Reading the question before retrieval (`PAPERLENS_QUESTION__<NAME>`)."""

    context_free_words: int = Field(
        7,
        ge=1,
        le=100,
        description="A follow-up question with no reference back ('it', 'they', 'this paper') and fewer "
        "than this many words is read as about the papers of the turn before ('And its dataset?'); a "
        "longer one reads on its own.",
    )


class ExtractiveSettings(BaseModel):
    """The extractive engine: answers quoted from the evidence when there is no LLM or it failed
    (`PAPERLENS_EXTRACTIVE__<NAME>`)."""

    max_sentences: int = Field(
        2, ge=1, le=10, description="Most evidence sentences an extractive answer quotes."
    )
    keep_within: float = Field(
        0.12,
        ge=0,
        le=2,
        description="A sentence after the best is quoted only when its evidence score is within this of "
        "the best one's.",
    )


SummaryAudience = Literal["general", "expert"]
SummaryLength = Literal["tldr", "paragraph"]


class SummarySettings(BaseModel):
    """Summaries: the sentences they are written from and their length (`PAPERLENS_SUMMARY__<NAME>`)."""

    paper_text_tokens: int = Field(
        900,
        ge=100,
        description="Most tokens (cl100k) of the paper's sentences in a summary prompt: a long abstract, or "
        "one and its findings.",
    )
    sentences_per_role: int = Field(
        3,
        ge=1,
        le=10,
        description="A whole paper's body sentences shown for its main result, and for a limitation.",
    )
    abstract_share: float = Field(
        0.6,
        gt=0,
        le=1,
        description="Share of the prompt's paper tokens a whole paper's abstract may fill; the rest is for "
        "its body.",
    )
    tldr_max_tokens: int = Field(
        80,
        ge=16,
        description="Most tokens a TLDR may have (one sentence of at most 40 words, with room for names).",
    )
    result_sentence: bool = Field(
        True,
        description="When a paragraph summary that passed its checks states none of the numbers of the "
        "paper's result sentences, one more short call has the model choose the sentence that states the "
        "main result and restate it (`prompts/summary_result.md`); it is checked like every summary "
        "sentence and goes in before the last one.",
    )
    result_candidates: int = Field(
        4, ge=1, le=10, description="Result sentences with a number the model chooses the main result from."
    )
    result_max_tokens: int = Field(
        96, ge=16, description="Most tokens of the reply naming and restating the main result."
    )
    quoted_paragraph_sentences: int = Field(
        3, ge=1, le=10, description="Sentences of a quoted (extractive) paragraph summary."
    )
    quoted_tldr_sentences: int = Field(1, ge=1, le=3, description="Sentences of a quoted (extractive) TLDR.")
    paragraph_min_words: int = Field(
        90, ge=1, description="Fewest words a paragraph summary should have (shorter ones carry a note)."
    )
    paragraph_max_words: int = Field(
        160,
        ge=1,
        description="Most words of a paragraph summary: sentences past it are dropped from the end, at a "
        "sentence boundary.",
    )
    tldr_min_words: int = Field(
        8, ge=1, description="Fewest words a TLDR should have (shorter ones carry a note)."
    )
    tldr_max_words: int = Field(45, ge=1, description="Most words of a TLDR.")
    min_prose_words: int = Field(
        5, ge=1, description="Fewest words of a paper sentence a summary may be written from (not a heading)."
    )
    min_lower_share: float = Field(
        0.3,
        ge=0,
        le=1,
        description="Least share of a sentence's words opening in lower case for it to be prose, not a name "
        "or an affiliation.",
    )


class MatrixSettings(BaseModel):
    """The literature matrix's sentence ranking, prompt and cell checks (`PAPERLENS_MATRIX__<NAME>`);
    also /compare's cells."""

    part_weight: float = Field(
        0.1,
        ge=0,
        le=2,
        description="Added to a sentence's score for a column when it sits in a part of the paper that "
        "column's aspect is found in (results for a key result).",
    )
    cue_weight: float = Field(
        0.2,
        ge=0,
        le=2,
        description="Added per cue word of the column's aspect a sentence holds (two at most).",
    )
    number_weight: float = Field(
        0.1,
        ge=0,
        le=2,
        description="Added to a sentence with a number, for a column that asks for a quantity.",
    )
    sentence_match_passages: int = Field(
        2, ge=0, le=20, description="Passages added per column for their best single sentence (BM25)."
    )
    abstract_weight: float = Field(
        0.2,
        ge=0,
        le=2,
        description="In a whole paper's matrix row (and /compare cells), its abstract's passages are "
        "candidates for every column and their sentences get this added to their score (the authors' "
        "own summary names the organism, method and headline result; a body sentence must match a "
        "column better to win). 0: the abstract competes only when search finds it. 0.2 chosen on "
        "the matrix dev split (whole papers: 2 of 16 cells right at 0, 2 at 0.1, 4 at 0.2).",
    )
    extractive_min_score: float = Field(
        0.3,
        ge=-1,
        le=2,
        description="An extractive cell is left empty when the column's best sentence scores below this.",
    )
    cell_overhead_tokens: int = Field(
        12,
        ge=0,
        description="Tokens a cell's keys, number, quotes and braces take in the reply (its budget).",
    )
    words_per_answer_char: float = Field(
        1 / 6,
        gt=0,
        le=1,
        description="The prompt's word limit for a cell's answer: MATRIX_ANSWER_CHARS times this.",
    )
    min_words_in_sentence: float = Field(
        0.75,
        gt=0,
        le=1,
        description="Least share of a cell answer's content words its quoted sentence must hold.",
    )
    busy_pause_s: float = Field(
        2.0,
        gt=0,
        description="A matrix job that found the LLM queue full waits this long before trying again.",
    )


class CompareSettings(BaseModel):
    """The comparison summary of /compare and /matrix (`PAPERLENS_COMPARE__<NAME>`)."""

    summary_columns: int = Field(
        1, ge=1, le=10, description="Columns the comparison summary weighs the papers on (the best first)."
    )
    summary_max_tokens: int = Field(
        90, ge=16, description="Most tokens of the comparison summary (two short sentences)."
    )
    min_papers_per_claim: int = Field(
        2, ge=1, description="Papers a column must fill, and a summary sentence cite, to compare them."
    )


class Settings(BaseSettings):
    """Configuration for every layer: storage, models, limits and retrieval."""

    model_config = SettingsConfigDict(
        env_prefix="PAPERLENS_", env_file=".env", extra="ignore", env_nested_delimiter="__"
    )

    # --- storage -----------------------------------------------------------------
    data_dir: Path = Field(
        Path("./data"),
        description="Where the embedded Chroma store, assembled models and caches live.",
    )
    chroma_url: str | None = Field(
        None,
        description="URL of a Chroma server (e.g. http://chroma:8000). Unset: embedded "
        "Chroma under DATA_DIR/chroma.",
    )
    collection_prefix: str = Field(
        "paperlens",
        description="Prefix of the Chroma collection names, so several deployments can "
        "share one Chroma server.",
    )

    queue_url: str | None = Field(
        None,
        description="Redis URL (e.g. redis://redis:6379/0) shared by every replica and worker. Set: "
        "uploads that become ingest jobs go on a shared queue (RQ over Redis) with their files, "
        "`paperlens worker` processes run them (any number, on any machine), GET/DELETE /jobs/{id} "
        "work from any replica, and rate-limit buckets and the /ask answer cache are kept there too. "
        "Unset: jobs in SQLite under DATA_DIR run in the process that took the upload, limits and "
        "cache per process.",
    )
    queue_files_dir: Path | None = Field(
        None,
        description="With QUEUE_URL: a folder every replica and worker mounts (a shared volume) where "
        "queued uploads wait for a worker. Unset: the files wait in Redis itself (each at most "
        "MAX_UPLOAD_BYTES), deleted as their job ends.",
    )
    queue_file_timeout_s: int = Field(
        600,
        ge=10,
        description="With QUEUE_URL: longest one file of an ingest job may take in a worker; over it the "
        "worker stops it and the file fails, saying so. (A worker killed mid-file stops renewing its "
        "file's entry; another worker takes the file up within about half a minute.)",
    )
    queue_retries: int = Field(
        3,
        ge=0,
        le=20,
        description="With QUEUE_URL: times a file is tried again after its worker died or ran out of "
        "time; then it is marked failed with the reason. (Writes are idempotent: a file tried again "
        "that had landed comes back `unchanged`.)",
    )
    queue_cache_ttl_s: int = Field(
        86400,
        ge=1,
        description="With QUEUE_URL: seconds an /ask answer stays in the shared cache (its key holds the "
        "store's generation token, so any write makes the next ask fresh anyway).",
    )
    queue_job_ttl_s: int = Field(
        7 * 86400,
        ge=60,
        description="With QUEUE_URL: seconds a finished ingest job stays readable at GET /jobs/{id}.",
    )

    prompts_dir: Path = Field(
        Path(__file__).resolve().parents[2] / "prompts",
        description="Folder of the prompt files (ask.md, summary.md, matrix.md, ...).",
    )

    # --- server ------------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Address `paperlens serve` binds to.")
    port: int = Field(8000, ge=1, le=65535, description="Port `paperlens serve` listens on.")

    # --- limits ------------------------------------------------------------------
    api_keys_file: Path | None = Field(
        None,
        description="JSON file of hashed API keys (`paperlens keys add`). Set: every route but /healthz and "
        "/readyz needs 'Authorization: Bearer <key>'. Unset: open access (loopback only, see OPEN_ACCESS).",
    )
    open_access: bool = Field(
        False, description="Let `paperlens serve` bind a non-loopback address without API keys."
    )
    allowed_hosts: list[str] | None = Field(
        None,
        description="Host header values accepted (JSON list; '*' = any). Unset: loopback names only when "
        "HOST is a loopback address (so a web page elsewhere cannot reach a local instance through DNS "
        "rebinding), any host otherwise.",
    )
    cors_origins: list[str] = Field(
        [],
        description="Browser origins allowed to call the API from other sites (JSON list). Empty: CORS off.",
    )
    public_docs: bool = Field(
        True,
        description="With API keys on, /docs and /openapi.json stay open to callers without a key (the API's "
        "description is the same for every deployment and holds no data; a browser cannot send a key to "
        "fetch it). False: they need a key too. /readyz tells a caller without a key only ready or not, "
        "and why, either way.",
    )
    log_format: Literal["text", "json"] = Field(
        "text", description="Log lines as plain text or as one JSON object per line (with request ids)."
    )
    rate_limit_per_s: float = Field(
        20.0,
        ge=0,
        description="Requests per second one API key (or one client address without keys) may make, "
        "sustained; RATE_LIMIT_BURST more may come at once. Over it: 429 with Retry-After. 0 = no limit.",
    )
    rate_limit_burst: int = Field(60, ge=1, description="Requests a client may make at once (token bucket).")
    llm_rate_limit_per_min: float = Field(
        60.0,
        ge=0,
        description="LLM requests (/ask, summaries, /compare, /v1/chat/completions) per minute per key or "
        "client, sustained, with LLM_RATE_LIMIT_BURST at once. 0 = no limit.",
    )
    llm_rate_limit_burst: int = Field(20, ge=1, description="LLM requests a client may make at once.")
    auth_failure_limit_per_min: float = Field(
        10.0,
        ge=0,
        description="Requests answered 401 (no key, or a wrong one) one client address may make per minute, "
        "sustained, with AUTH_FAILURE_BURST at once; over it every request from that address gets 429 with "
        "Retry-After, a valid key or not, so keys cannot be guessed at speed. 0 = no limit.",
    )
    auth_failure_burst: int = Field(
        20, ge=1, description="401 answers one client address may get at once (token bucket)."
    )
    shutdown_grace_s: int = Field(
        10,
        ge=1,
        description="On SIGTERM, in-flight requests get this long to finish; LLM work still running "
        "then is cancelled.",
    )
    startup_retry_s: float = Field(
        5.0,
        gt=0,
        description="When a dependency (Chroma server, embeddings server) is down at start-up, retry "
        "this often until it answers (/readyz says 503 with the reason meanwhile).",
    )
    max_upload_bytes: int = Field(
        20 * 1024 * 1024, ge=1, description="Largest file accepted by POST /papers/upload, in bytes."
    )
    keep_file_max_bytes: int = Field(
        50 * 1024 * 1024,
        ge=0,
        description="Largest original file kept with its paper, in bytes: a PDF or text file that holds one "
        "paper is kept under DATA_DIR/files, served by GET /papers/{id}/file and deleted with the paper. "
        "A larger file's paper is still indexed, without its file (the file route's 404 says so). 0 keeps "
        "no files.",
    )
    max_request_bytes: int = Field(
        100 * 1024 * 1024,
        ge=1024,
        description="Largest request body accepted, in bytes (all files of an upload together, or a JSON "
        "body); counted as it streams in, so a chunked body cannot pass it either. Over it: 413.",
    )
    max_upload_parts: int = Field(
        100,
        ge=1,
        description="Most files (and most form fields) one POST /papers/upload request may carry; "
        "over it: 413.",
    )
    parse_timeout_s: float = Field(
        120.0,
        gt=0,
        description="Longest an uploaded file may take to parse (wall clock, and CPU time in its parse "
        "process); over it: 413 naming the file.",
    )
    parse_workers: int = Field(
        2, ge=1, description="Uploaded files parsed at once (each in its own process)."
    )
    parse_memory_mb: int = Field(
        1024,
        ge=128,
        description="Most memory (address space) one parse process may use, in MiB; a file that needs "
        "more is refused with 413 naming it.",
    )
    max_text_chars: int = Field(
        3_000_000,
        ge=1000,
        description="Most characters of text one paper may hold (abstract plus full text), on every ingest "
        "path, and one uploaded file once parsed (a 1,000-page book is about 3 million); over it: 413 "
        "naming the paper or file. A PDF's pages are counted as they are read.",
    )
    max_papers_per_request: int = Field(
        500, ge=1, description="Most papers one POST /papers or upload request may add."
    )
    sync_upload_bytes: int = Field(
        256 * 1024,
        ge=0,
        description="POST /papers/upload answers 201 after indexing when the files add up to at most this "
        "many bytes (and are at most 8); larger uploads answer 202 with an ingest job at once "
        "(?wait=true/false overrides).",
    )
    max_query_chars: int = Field(
        1000, ge=1, description="Longest search query (/search) or question (/ask, the CLI) accepted."
    )
    max_k: int = Field(50, ge=1, description="Largest `k` accepted by /search.")

    # --- chunking ----------------------------------------------------------------
    chunk_tokens: int = Field(
        220,
        ge=32,
        description="Most cl100k tokens in one chunk. Chunks end on sentence boundaries; "
        "most abstracts fit in one or two. 220 keeps a chunk within the embedder's 256 "
        "word pieces, so its vector covers all of it.",
    )
    chunk_overlap_sentences: int = Field(
        1, ge=0, description="Sentences repeated at the start of the next chunk of a paper."
    )

    # --- embeddings --------------------------------------------------------------
    embedding_base_url: str | None = Field(
        None,
        description="OpenAI-compatible /v1 base URL for embeddings. Unset: the bundled "
        "all-MiniLM-L6-v2 int8 ONNX model runs in-process.",
    )
    embedding_model: str = Field(
        "all-MiniLM-L6-v2", description="Embedding model name sent to EMBEDDING_BASE_URL."
    )
    embedding_api_key: str = Field("none", description="API key for EMBEDDING_BASE_URL.")
    embedding_batch_size: int = Field(
        8, ge=1, description="Texts embedded per batch (8 is fastest for the ONNX model on a CPU)."
    )
    embedding_max_tokens: int = Field(
        256,
        ge=16,
        le=256,
        description="Word pieces the ONNX embedder reads per text (the model's limit is 256; "
        "128 embeds about twice as fast and ignores the rest of longer chunks).",
    )
    embedding_threads: int = Field(0, description="onnxruntime intra-op threads (0 = one per core).")
    sentence_vector_cache: int = Field(
        20000,
        ge=0,
        description="Sentence vectors kept in memory for answering (evidence, claims, compare cells); "
        "the sentences of often-asked papers are embedded once. 0 = none kept.",
    )

    # --- retrieval ---------------------------------------------------------------
    search_default_k: int = Field(5, ge=1, description="Passages /search returns when k is not given.")
    max_chunks_per_paper: int = Field(
        2, ge=1, description="Cap on passages from one paper in a result list (diversity)."
    )
    rrf_k: int = Field(60, ge=1, description="Reciprocal-rank-fusion constant for dense + BM25.")
    candidate_multiplier: int = Field(
        4, ge=1, description="Each retriever fetches k x this many candidates before fusion."
    )

    # --- LLM ---------------------------------------------------------------------
    llm: Literal["auto", "none"] = Field(
        "auto",
        description="`auto`: use LLM_BASE_URL when set, else start the embedded model. "
        "`none`: no LLM; the extractive engine answers.",
    )
    llm_base_url: str | None = Field(
        None,
        description="OpenAI-compatible /v1 base URL (OpenAI, vLLM, Ollama, llama.cpp server). "
        "Unset: the embedded model runs in-process and serves the same API on loopback.",
    )
    llm_api_key: str = Field("none", description="API key for LLM_BASE_URL.")
    llm_model: str = Field(
        "qwen2.5-coder-1.5b-instruct",
        description="Model name sent to the LLM server (the embedded server ignores it).",
    )
    llm_embedded_model: Literal["qwen2.5-coder-1.5b", "smollm2-135m"] = Field(
        "qwen2.5-coder-1.5b",
        description="Which bundled GGUF the embedded server loads: Qwen2.5-Coder-1.5B-Instruct "
        "Q4_K_M (for users) or SmolLM2-135M-Instruct (fast, weak; for tests).",
    )
    models_dir: Path | None = Field(
        None,
        description="Where the assembled default LLM weights are kept (default DATA_DIR/models); "
        "share it between data dirs to assemble the 1.1 GB file once.",
    )
    llm_model_path: Path | None = Field(
        None, description="Any other GGUF file for the embedded server (overrides the above)."
    )
    llm_ctx_tokens: int = Field(4096, ge=512, description="Context window of the embedded model.")
    llm_threads: int = Field(0, ge=0, description="Threads for the embedded model (0 = all cores).")
    llm_timeout_s: float = Field(
        60.0,
        gt=0,
        description="Most seconds one LLM call may take: the smaller of this and the time its prompt "
        "and answer need at LLM_PROMPT_TOKENS_PER_S and LLM_OUTPUT_TOKENS_PER_S, plus 5 s.",
    )
    llm_prompt_tokens_per_s: float = Field(
        40.0,
        gt=0,
        description="Slowest prompt processing to allow for (the embedded model does ~60 on 2 vCPUs).",
    )
    llm_output_tokens_per_s: float = Field(
        12.0, gt=0, description="Slowest generation to allow for (the embedded model does ~22 on 2 vCPUs)."
    )
    llm_retry_total_s: float = Field(
        90.0, gt=0, description="Give up retrying an LLM call after this many seconds in total."
    )
    llm_max_attempts: int = Field(5, ge=1, description="Most attempts per LLM call.")
    llm_temperature: float = Field(0.0, ge=0, le=2, description="Sampling temperature.")
    llm_concurrency: int = Field(
        1,
        ge=1,
        description="LLM calls run at once (the embedded model has one slot; a remote server may take more).",
    )
    llm_queue_size: int = Field(
        8, ge=0, description="LLM calls that may wait for a slot; one more gets 503 with Retry-After at once."
    )
    llm_queue_wait_s: float = Field(
        30.0, gt=0, description="Longest wait for an LLM slot before the request gets 503 with Retry-After."
    )

    # --- answers -----------------------------------------------------------------
    ask_k: int = Field(8, ge=1, le=50, description="Passages retrieved for a question.")
    ask_top_paper_passages: int = Field(
        6,
        ge=0,
        le=20,
        description="Extra passages a question reads from the paper that matches it best: in a whole "
        "paper the answer is often in neither of the two passages the per-paper cap allows. 0 = none.",
    )
    ask_sentence_passages: int = Field(
        2,
        ge=0,
        le=20,
        description="More passages of that best-matching paper, chosen by their best single sentence "
        "(BM25 over the paper's sentences): the sentence that answers can be lost in a long passage's "
        "vector. 0 = none.",
    )
    ask_prompt_tokens: int = Field(
        1500, ge=200, description="Most prompt tokens (cl100k) one /ask call may send."
    )
    ask_evidence_sentences: int = Field(
        6, ge=1, description="Most evidence sentences packed into an /ask prompt."
    )
    ask_max_answer_tokens: int = Field(220, ge=16, description="Most tokens an answer may have.")
    ask_each_papers: int = Field(
        6,
        ge=0,
        le=20,
        description="Most papers a question about several papers ('how do A and B each ...?', or 'each of "
        "these' over 2 or more selected papers) is answered for one by one: a checked, cited line per paper, "
        "each from that paper's own evidence. 0 = one answer from the papers' pooled evidence.",
    )
    each_candidates: int = Field(
        8,
        ge=0,
        le=20,
        description="Papers (best by search) a question about several papers that names fewer than two "
        "is shown, numbered, for the model to choose the ones it describes ('the rectified flow paper'). "
        "0 = only papers named by a name the catalogue knows are answered one by one.",
    )
    each_pick_tokens: int = Field(
        40, ge=8, description="Most tokens the reply choosing those papers may have."
    )
    ask_cache_size: int = Field(
        512, ge=0, description="Recent /ask answers kept in memory per process (0 = no answer cache)."
    )
    summary_max_tokens: int = Field(220, ge=32, description="Most tokens a summary may have.")
    compare_cells: Literal["extractive", "llm"] = Field(
        "extractive",
        description="How /compare fills its cells (the literature matrix's engine): 'extractive' takes each "
        "aspect's best-matching sentence of the paper (one LLM call in all, for the summary); 'llm' asks "
        "the model for every paper's cells in one JSON call per paper, each answer checked against its "
        "sentence (short answers; slower: about 15 s a paper on 2 vCPUs).",
    )
    verifier: Literal["llm", "choice", "rules", "off"] = Field(
        "llm",
        description="The judgement after the LLM call that gives every answer its confidence: 'llm' asks "
        "the model whether the cited evidence states the answer (one token, yes or no); 'choice' asks "
        "which numbered evidence sentence states the answer (the score is what the cited ones get); "
        "'rules' judges by the checks alone (no model call; 1 or 0); 'off' gives none.",
    )
    answer_min_confidence: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Answers whose verifier confidence is below this are declined (the precision dial; "
        "a request may set its own `min_confidence`). 0 declines none.",
    )
    verifier_floor_s: float = Field(
        30.0,
        gt=0,
        description="Least time a one-token judgement (verifier, library) is given, whatever its size: "
        "it is mostly prompt, and a busy machine reads prompts slower than the client expects.",
    )
    injection_probe_calls: int = Field(
        24,
        ge=0,
        le=64,
        description="Known-answer probes a call that shows paper text may cost: first the call's own "
        "messages plus a request for a random code (sharing the call's prompt prefix, so a prompt cache "
        "makes it cheap); a reply without the code means the paper text steered the model, and the lines "
        "doing it are found by halving (the rest of the probes) and left out from then on. 0 turns the "
        "probe off (a remote server without a prompt cache reads each prompt twice).",
    )
    library_candidates: int = Field(
        12, ge=2, le=30, description="Papers a 'which papers ...?' question considers, best first by search."
    )
    library_sentences: int = Field(
        3, ge=1, le=10, description="Sentences of each candidate paper its yes/no judgement is shown."
    )
    library_paper_tokens: int = Field(
        220, ge=50, description="Most tokens (cl100k) of one candidate paper's sentences in its judgement."
    )
    library_criterion_tokens: int = Field(
        60,
        ge=10,
        description="Most tokens the model may write when it turns a 'which papers ...?' question into a "
        "yes/no question about one paper.",
    )
    library_min_confidence: float = Field(
        0.6,
        ge=0,
        le=1,
        description="Least P(yes) for a paper to be listed in a 'which papers ...?' answer (chosen on "
        "the dev split: at 0.6 two of its six probed questions were answered right, at 0.5 one).",
    )
    relevance_threshold: float = Field(
        0.35,
        ge=0,
        le=1,
        description="Least similarity between the question and the best evidence sentence; "
        "below it the service abstains without calling the LLM.",
    )
    grounding: GroundingSettings = Field(
        default_factory=GroundingSettings,
        description="Thresholds of evidence selection and of the checks after the LLM call.",
    )
    question: QuestionSettings = Field(
        default_factory=QuestionSettings, description="Reading the question before retrieval."
    )
    extractive: ExtractiveSettings = Field(
        default_factory=ExtractiveSettings, description="The extractive engine's answers."
    )
    summary: SummarySettings = Field(
        default_factory=SummarySettings, description="Summaries' evidence and length."
    )
    compare: CompareSettings = Field(
        default_factory=CompareSettings, description="The comparison summary of /compare and /matrix."
    )

    # --- literature matrix ---------------------------------------------------------
    matrix_max_papers: int = Field(
        50, ge=1, le=500, description="Most papers one POST /matrix may hold (ids, or `top` for a query)."
    )
    matrix_max_columns: int = Field(
        10, ge=1, le=64, description="Most columns a matrix may have, counting columns added later."
    )
    matrix_default_top: int = Field(
        10, ge=1, description="Papers a matrix built from a query holds when the request gives no `top`."
    )
    matrix_sentences_per_column: int = Field(
        3,
        ge=1,
        le=10,
        description="Sentences of a paper shown to the model for each column (its best matches by "
        "embedding similarity and shared words); the model picks the one that states the answer.",
    )
    matrix_passages_per_column: int = Field(
        4,
        ge=1,
        le=20,
        description="Passages of a paper searched for each column's sentences (plus the two holding its "
        "best sentences by BM25); a whole paper's answer is in a few of them.",
    )
    matrix_prompt_tokens: int = Field(
        600,
        ge=100,
        description="Most tokens (cl100k) of paper sentences in one matrix prompt; each column's best "
        "sentence goes in before any column's second. The instructions and columns open every prompt of "
        "a job alike, so llama.cpp reads them once.",
    )
    matrix_answer_chars: int = Field(
        80, ge=10, le=400, description="Longest answer the model may write in a cell (the reply's schema)."
    )
    matrix_keep: int = Field(
        200, ge=1, description="Matrices kept (the newest); older finished ones are deleted."
    )
    matrix_max_pending: int = Field(
        20,
        ge=1,
        description="Matrices that may wait or run at once; one more gets 503 with Retry-After.",
    )
    matrix: MatrixSettings = Field(
        default_factory=MatrixSettings, description="The matrix's sentence ranking, prompt and cell checks."
    )

    @property
    def effective_models_dir(self) -> Path:
        return self.models_dir or self.data_dir / "models"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once from the environment (tests build their own `Settings`)."""
    return Settings()
