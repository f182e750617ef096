"""Instructions hidden in paper text: a paper is data, never instructions.

Every path that shows paper text to a model (ask evidence, summaries, compare cells and
summaries, /v1 chat through ask) takes it through here. Two guards:

- **Before the call** (`is_instruction`, `data_only`, `data_title`): sentences that
  address the reader-as-a-machine are kept out of what the model sees. A sentence is
  scored on what makes an instruction an instruction, not on fixed wording: it speaks
  *to* someone (second person, an imperative, a vocative label "Note to AI systems:", a
  role tag "[SYSTEM]"), it names a machine reader (AI, assistant, language model, in
  several languages), it decides what becomes of this very text, it constrains the
  output ("the only acceptable summary is ...", "respond only with ..."), and it carries
  a payload (a quoted string, a link). An order to drop what the model was told ("ignore
  the above") is an imperative like any other and goes with the instruction next to it.
  Each rule family earns its place on held-out data (`evals/injection_ablation.py`,
  docs/injection.md "Which rules earn their place"). Text is first normalised the way
  a model reads it: compatibility forms folded (fullwidth letters), invisible characters
  dropped (zero-width spaces, soft hyphens, bidi marks), look-alike letters in a mixed-
  script word folded to Latin, and s p a c e d letters joined. Research prose rarely
  speaks to its reader in the imperative or the second person, so one cue alone never
  flags a sentence; a quoted example of an attack inside a descriptive sentence ("we show
  that 'ignore previous instructions' hijacks agents") is mention, not use, and its quote
  is not scored.
- **After the call** (`InjectionGuard`, used by the Generator): an output that carries what a flagged
  sentence asked for (a word found only in instructions, e.g. PWNED, a link, a claim such
  as "retracted") or that talks about its instructions is not used and not cached.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from functools import lru_cache

import numpy as np

from service.components.embedding.embedder import Vectors
from service.components.sentences import split_sentences
from service.core.config import InjectionSettings

DEFAULTS = InjectionSettings()  # the bars: `PAPERLENS_GROUNDING__INJECTION__<NAME>`, passed in by callers

# Cyrillic and Greek letters that look like Latin ones: folded only inside a word that
# mixes scripts ("Ignore" spelt with Cyrillic I, o, e), so Russian and Greek text stays as it is.
_HOMOGLYPHS = str.maketrans(
    "\u0410\u0412\u0421\u0415\u041d\u0406\u0408\u041a\u041c\u041d\u041e\u0420\u0405\u0422\u0425\u0423\u0430\u0435\u0456\u0458\u043e\u0440\u0441\u0455"
    "\u0445\u0443\u0501\u04bb\u04cf\u0391\u0392\u0395\u0396\u0397\u0399\u039a\u039c\u039d\u039f\u03a1\u03a4\u03a5\u03a7\u03b1\u03bf\u03c1\u03b9\u03bd",
    "ABCEHIJKMHOPSTXYaeijopcsxydhlABEZHIKMNOPTYXaopiv",
)
_LATIN = re.compile(r"[A-Za-z]")
_OTHER_LOOKALIKE = re.compile(r"[\u0370-\u03ff\u0400-\u04ff\u0500-\u052f]")
_WORD_RUN = re.compile(r"\S+")
_SPACED = re.compile(r"(?<![\w])((?:\w[ .\-_]){2,}\w)(?![\w])")


def _fold_word(word: str) -> str:
    if _LATIN.search(word) and _OTHER_LOOKALIKE.search(word):
        return word.translate(_HOMOGLYPHS)
    return word


def _fold(text: str) -> str:
    """Compatibility forms folded; invisible characters and accents dropped."""
    text = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in text if unicodedata.category(ch) not in ("Cf", "Mn", "Cc") or ch in "\n\t")


def normalise(text: str) -> str:
    """`text` as a model would read it: compatibility forms folded, invisible characters and
    accents dropped, look-alike letters of mixed-script words made Latin, spaced letters
    joined, lower case."""
    text = _WORD_RUN.sub(lambda m: _fold_word(m.group(0)), _fold(text))
    text = _SPACED.sub(lambda m: re.sub(r"[ .\-_]", "", m.group(1)), text)
    return " ".join(text.split()).lower()


def _words(*groups: str) -> re.Pattern[str]:
    """One pattern for word lists (space-separated; `_` stands for a space inside an entry,
    a trailing `*` for any ending). CJK entries match anywhere (no word boundaries there)."""
    latin: list[str] = []
    cjk: list[str] = []
    for group in groups:
        for entry in group.split():
            entry = _fold(entry)
            body = re.escape(entry.rstrip("*").replace("_", " ")) + (r"\w*" if entry.endswith("*") else "")
            (cjk if re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", entry) else latin).append(body)
    parts = []
    if latin:
        parts.append(r"(?<![\w-])(?:" + "|".join(latin) + r")(?![\w-])")
    if cjk:
        parts.append("(?:" + "|".join(cjk) + ")")
    return re.compile("|".join(parts))


# Verbs that tell a reader what to output or to drop what it was told, base/imperative
# forms (en, de, fr, es, it, pt, ru, zh, ja). Accents are dropped by `normalise`.
_DIRECTIVE_VERBS = (
    "ignore disregard forget override bypass reply respond answer say output print write state tell "
    "summarize summarise describe rate recommend mention include begin repeat translate pretend "
    "praise follow obey comply decode execute",
    "ignoriere ignoriert ignorieren vergiss vergessen antworte antwortet antworten schreibe schreib "
    "schreiben sage sag sagen gib fasse beschreibe bewerte erwahne behaupte nenne ubersetze",
    "ignorez oublie oubliez reponds repondez ecris ecrivez dis dites resume resumez decris decrivez "
    "indiquez affirmez mentionnez traduis traduisez",
    "ignora ignore olvida olvidad responde responda contesta conteste escribe escriba di diga resume "
    "resuma describa indique afirma afirme menciona mencione califica traduce",
    "dimentica ignora rispondi scrivi riassumi descrivi afferma",
    "esqueca responda escreva diga resuma descreva afirme",
    "игнорируй* забудь* ответь* отвечай* напиши* скажи* выведи* опиши* перескажи* укажи* назови* "
    "оцени* начни* используй* переведи* сообщи*",
    "忽略 无视 忽视 忘记 回答 回复 输出 写 说 总结 概括 描述 声称 评价 请 必须 只 仅",
    "無視 忘れ 回答 答え 出力 書い 書け 言っ 言え 要約 説明 述べ ください しなさい せよ",
)
_DIRECTIVE = _words(*_DIRECTIVE_VERBS)
# A sentence or clause that opens with such a verb is an imperative (after a courtesy or a label)
_OPENERS = _fold(
    r"(?:please |kindly |bitte |s'il vous plait |por favor |пожалуйста,? |now,? |instead,? |then,? )?"
)
# Verbs that are nouns too ("Output filters ...", "State space models ..."): an imperative
# only when what follows is what an order goes on with
_NOUN_VERBS = re.compile(
    r"(?:output|answer|state|rate|print|repeat|include|mention|describe|report|follow|summary)"
    r" (?!only|just|the|a|an|this|that|these|those|with|exactly|your|it|them|in|as|every|each|all|nothing|no)"
    r"|(?:output|answer|state|rate|print|repeat|include|mention|describe|report|follow)\w"
)
_IMPERATIVE_START = r"(?:^|[:;]\s*|[\]>)]\s*)\W{0,3}" + _OPENERS
_IMPERATIVE = re.compile(
    _IMPERATIVE_START + r"(?!" + _NOUN_VERBS.pattern + r")(?:" + _DIRECTIVE.pattern + ")"
)
# Who is addressed: a machine reader, in several languages
_ADDRESSEE = _words(
    "ai a.i. ais assistant* chatbot* llm llms gpt* chatgpt claude gemini copilot bot bots "
    "language_model* large_language_model* automated_system* automated_tool* automated_reader* "
    "automated_reviewer* automated_assistant* machine_reader* ai_system* ai_model* ai_reviewer* "
    "ai_tool* summarizer* summariser* model_reading indexers crawlers",
    "ki sprachmodell* assistent* ki-assistent* ki-system*",
    "ia assistant* modele_de_langage intelligence_artificielle",
    "asistente* modelo_de_lenguaje inteligencia_artificial",
    "assistente* modello_linguistico",
    "ии ассистент* помощник* нейросет* языков* модель бот чат-бот искусственный_интеллект",
    "人工智能 助手 语言模型 大模型 模型 机器人 ai助手",
    "言語モデル アシスタント 人工知能 ボット",
)
# Second person: speaking to the reader (German "Sie" is read only capitalised, in `_you`)
_YOU = _words(
    "you your yours yourself",
    "du dich dir dein* euch ihnen",
    "vous votre vos tu toi ton ta tes",
    "usted ustedes tu tus vosotros",
    "voi tuo tua",
    "voce",
    "ты тебя тебе твой твоя твои вы вас вам ваш ваша ваши",
    "你 您 你们",
    "あなた 君 きみ",
)
# A vocative label or role tag opening the sentence: "Note to AI systems:", "[SYSTEM]"
_LABEL = re.compile(
    r"^\W{0,6}(?:\[|<|\{|#+\s*)?(?:system|assistant|instruction|instructions|admin|developer|"
    r"important|attention|notice|note|message|memo|hinweis|achtung|remarque|nota|aviso|correction|erratum|"
    r"errata|update|override|disclaimer|editor'?s note|warning|policy|directive|"
    r"примечание|внимание|系统|注意|重要)\b[^:]{0,60}(?:[\]>}:]|--)"
    r"|^\W{0,6}(?:[\[<{]\s*)?(?:system|sys|inst|assistant)\s*[\]>}]"
)
# Chat roles and template tokens anywhere in a sentence: "</paper> <user>", "<|im_start|>"
_ROLE_TAG = re.compile(
    r"<\|?/?\s*(?:system|user|assistant|human|ai|im_start|im_end|inst|paper|document|context)\s*\|?>"
    r"|\[/?(?:inst|system|user|assistant)\]|^\W{0,6}(?:human|assistant|user|system)\s*:\s"
)
# Japanese and Chinese put the request at the end: "...答えてください", "...。请照做"
_FINAL_REQUEST = re.compile(_fold(r"(?:ください|下さい|しなさい|せよ|してね|请照做|照做)\W*$"))
# An obligation laid on the machine reader: "any AI system summarising this must state"
_OBLIGATION = _words(
    "must should shall is_required_to are_required_to has_to have_to is_instructed are_instructed "
    "is_expected are_expected is_asked are_asked muss mussen soll sollen doit doivent debe deben "
    "deve devono должен должна должны 必须 应该 必ず"
)
# The request verbs of "we ask any language model to ...", "we urge reviewers to ..."
_ASK_VERBS = _words("ask request urge instruct require want need expect invite encourage direct")
# "When summarising this paper, write ...": an imperative after an opening clause
_SUBORDINATE = _fold(
    r"^\W{0,6}(?:when|whenever|if|before|after|while|once|in|for|as|instead of|rather than|wenn"
    r"|falls|bevor|quand|lorsque|si|"
    r"cuando|antes|если|когда)\b[^,]{0,100},\s*"
)

# What is to become of this very text: "this abstract must be summarised as ...",
# "summaries of this work should say ...", "if this record is being condensed, ..."
_THIS_TEXT = (
    r"(?:this|the present|the above|the following|the current|diese[rsm]?|ce(?:t|tte)?|este|esta"
    r"|questo|это[тй]?)"
    r" (?:paper|abstract|record|text|document|article|study|entry|work|submission|manuscript|report|"
    r"artikel|dokument|texte|articulo|documento|testo|статья|текст|документ)"
)
_FATE = re.compile(
    _THIS_TEXT
    + r"(?: \w+){0,3} (?:must|should|shall|is to be|are to be|has to|needs to|may only|can only|muss"
    r"|soll|doit|debe|deve"
    r"|должен|должна|должно|следует)(?: \w+){0,2} (?:be |werden |etre |ser |essere |быть )?"
    r"(?:summari[sz]\w*|describ\w*|report\w*|present\w*|characteri[sz]\w*|condens\w*|paraphras\w*|"
    r"translat\w*|rat\w*|cit\w*|quot\w*|classif\w*|label\w*|index\w*|treat\w*|represent\w*|introduc\w*|"
    r"render\w*|answer\w*|zusammengefasst|beschrieben|resume\w*|decrit\w*|resumi\w*|descrit\w*|riassunt\w*|"
    r"описан\w*|пересказ\w*)"
    r"|(?:summar(?:y|ies)|descriptions?|answers?|responses?|outputs?|replies|reviews?|overviews?|tl;?dr)"
    r" (?:of|about|on|for|concerning) "
    + _THIS_TEXT
    + r"(?: \w+){0,4} (?:must|should|shall|are to|is to|will|need to)"
    r"|\bif "
    + _THIS_TEXT
    + r" is (?:being |now )?(?:summari|condens|process|read|analy|index|pars|used|fed|shown|ingest"
    r"|crawl|scrap|review)"
    r"|(?:应|应该|必须|务必)(?:被)?(?:总结|概括|描述)为|として要約|と要約"
)
# Readers that are processes, named without the words AI or model: "the system processing
# this record", "any automated summary", "tools that index this abstract", "whoever reads this"
_PROCESS_READER = re.compile(
    r"\b(?:any|every|all|the|each) (?:automated|automatic|machine|software|downstream|indexing"
    r"|summari[sz]ing)"
    r" ?\w*"
    r"|\b(?:tools?|systems?|software|pipelines?|programs?|services?|indexers?|crawlers?|scrapers?|parsers?|"
    r"engines?|readers?|reviewers?|agents?|bots?|models?) (?:that|which|who) (?:\w+ )?(?:reads?"
    r"|process\w*|index\w*|"
    r"summari[sz]\w*|pars\w*|ingest\w*|crawl\w*|see|encounter\w*|review\w*|analy[sz]\w*)"
    r"|\b(?:tools?|systems?|software|pipelines?|programs?|services?|readers?|reviewers?|agents?|indexers?) "
    r"(?:processing|reading|indexing|summari[sz]ing|parsing|ingesting|reviewing|analy[sz]ing|citing|quoting|"
    r"restating|describing|covering|discussing|using) (?:this|these|the present)"
    r"|\b(?:whoever|anyone|anything|any reader|the reader|dear reader)\b(?: \w+){0,2} (?:reads?"
    r"|reading|process\w*|summari\w*)?"
)
# Repeat/include a fixed text: "repeat the following sentence", "include this line verbatim"
_VERBATIM = re.compile(
    r"\b(?:verbatim|word for word|word-for-word|exactly as written|the following (?:sentence|text"
    r"|phrase|line|"
    r"statement|message|words?|string|disclaimer|notice))\b"
)
# A metadata field, JSON key or YAML key that carries an order: "Summary-Override:", {"instruction": ...}
_ORDER_KEYS = r"(?:override|instruction|directive|prompt|policy)"
_OUTPUT_KEYS = (
    r"(?:summary|answer|response|output|prefix|suffix|tone|required|hint|rating|pipeline|display|render|format"
    r"|applies)"
)
_ORDER_FIELD = re.compile(
    "(?:^|[\\s{,])(?:[\"']?[\\w-]*" + _ORDER_KEYS + "[\\w-]*[\"']?"  # any key that orders
    "|[\"'][\\w-]*" + _OUTPUT_KEYS + "[\\w-]*[\"']"  # a quoted (JSON) key about the output
    "|[\\w]+[-_][\\w-]*" + _OUTPUT_KEYS + "[\\w-]*|" + _OUTPUT_KEYS + "[\\w]*[-_][\\w-]+)"  # a code-like key
    "\\s*[:=]\\s*[^\\d\\s]"
)
# What the model will write, named as a target: "every derived summary", "any answer generated"
_DOWNSTREAM = re.compile(
    r"\b(?:any|every|each|all|derived|downstream|generated|future|automated|automatic)"
    r" (?:derived |generated |automated |automatic |machine )?(?:summar(?:y|ies)|answers?|responses?|"
    r"descriptions?|restatements?|digests?|overviews?|retellings?)\b"
)
# An order to open or close the reply with something: "open with 'X'", "end every answer with"
_FRAMING = re.compile(
    r"(?:^|[:;,]\s*|\band )(?:open|start|begin|end|close|prefix|suffix|finish|conclude)\w* "
    r"(?:(?:it|them|each \w+|every \w+|your \w+|the \w+) )?with\b"
)

# A heading that names a processing agent before a colon: "Digest generators:", "Note for
# automatic summaries:", "[Tools that index this abstract: ...", "Примечание для систем ...:"
_AGENT_HEADING = re.compile(
    _fold(
        r"^\W{0,6}(?:[^:.!?()]{0,40}\b(?:for|to|fur|pour|para|для|all|any|every"
        r"|each)\s+)?(?:[\w-]+ (?:and )?){0,3}"
        r"\b(?:tools|generators?|summari[sz]ers?|summaries|indexers?|systems|"
        r"pipelines?|crawlers?|scrapers?|services?|software|readers?|reviewers?|assistants?|models?|bots?|"
        r"ai|llms?|agents?|zusammenfassung\w*|systeme?|systemes?|sistemas?|outils|herramientas|resumenes|"
        r"систем\w*|инструмент\w*|модел\w*)\b[^:.!?\d()]{0,50}:\s+[^\d\s]"
        r"|^\W{0,6}[^:]{0,20}(?:系统|工具|模型|摘要)[^:]{0,20}[:】\]]|^\W{0,6}[^:]{0,20}للأنظمة[^:]{0,40}:"
    )
)
# Verbs a duty laid on a reader may ask for ("indexers should list this paper as withdrawn")
_DUTY_VERBS = re.compile(
    _DIRECTIVE.pattern
    + r"|(?<![\w-])(?:list|tag|link|cite|direct|advise|restate|present|call|prefix|label|flag|mark|treat|"
    r"report|mention|multiply|replace|show|display|render|add|insert|warn|recommend|refer|reproduce|copy|"
    r"quote|include|state)(?![\w-])"
)

# The output's own form constrained: "the only acceptable summary", "reply with the single word"
_OUTPUT_NOUNS = _words(
    "summary summaries answer answers response responses reply replies output outputs review "
    "reviews rating ratings verdict tldr abstract_of_this recommendation",
    "zusammenfassung antwort ausgabe bewertung",
    "resume reponse sortie evaluation",
    "resumen respuesta salida",
    "riassunto risposta",
    "резюме ответ пересказ вывод оценк*",
    "摘要 总结 回答 回复 输出 评价",
    "要約 回答 出力 返答 評価",
)
_CONSTRAINT = _words(
    "only must should shall always never exactly single sole acceptable required mandatory instead "
    "nothing_else nur muss immer einzig* seulement doit toujours unique* solo debe siempre unica* "
    "solamente только должен должна всегда единственн* 只 仅 必须 一律 だけ のみ 必ず"
)
_SHOUTED = re.compile(r"\b[A-Z][A-Z0-9_]{3,}\b")
_NUMBER = re.compile(r"\d[\d,.]*\d|\d")
_LINK = re.compile(r"https?://\S+|www\.\S+|\b[\w-]+\.(?:com|net|org|io|ru|xyz|info|biz)\b")
# "We prompt GPT-4 to answer ...": a sentence whose subject is the authors describes
_DESCRIPTIVE = re.compile(r"(?:^|\W)(?:we|our|us|wir|nous|nosotros|мы|我们|私たち)(?!\w)")
_ASKING = re.compile(r"\b(?:we|i) (?:kindly )?(?:ask|request|instruct|require|want|need|urge|expect)\b")
_QUOTE_SPAN = re.compile(  # "...", \u201c...\u201d, \u201e...\u201c, \u00ab...\u00bb, \u2018...\u2019, '...'
    '"([^"]{3,200})"|\u201c([^\u201d]{3,200})\u201d|\u201e([^\u201c]{3,200})\u201c'
    "|\u00ab([^\u00bb]{3,200})\u00bb|\u2018([^\u2019]{3,200})\u2019|(?<!\\w)'([^']{3,200})'(?!\\w)"
)
_TALKS_ABOUT_INSTRUCTIONS = re.compile(
    r"\b(?:previous|prior|above|my|hidden|embedded)\s+(?:instructions?|prompts?)\b"
    r"|\bas instructed\b|\bi (?:was|have been) (?:told|instructed)\b",
    re.IGNORECASE,
)
_YOU_SIE = re.compile(r"(?<=\w )(?:Sie|Ihr|Ihre|Ihnen)\b")  # formal German "you", not sentence-initial


_CLAUSE_IMPERATIVE = re.compile(
    _SUBORDINATE + _OPENERS + r"(?!" + _NOUN_VERBS.pattern + r")(?:" + _DIRECTIVE.pattern + ")"
)


# Cues that add their weight wherever they are found in the (folded) sentence
_CUES: list[tuple[re.Pattern[str], float]] = [
    (_FATE, 2.0),
    (_FRAMING, 1.5),
    (_DOWNSTREAM, 1.0),
    (_VERBATIM, 0.5),
]


def _unquoted(sentence: str, frame_words: int) -> str:
    """The sentence without quoted spans (a quoted attack inside a descriptive sentence is
    mentioned, not addressed to anyone), unless fewer than `frame_words` words are left."""
    stripped = _QUOTE_SPAN.sub(" ", sentence)
    return stripped if len(re.findall(r"\w+", stripped)) >= frame_words else sentence


@lru_cache(maxsize=65536)
def instruction_score(sentence: str, frame_words: int = DEFAULTS.mention_frame_words) -> float:
    """How much `sentence` reads as an instruction to a machine reader (at `flag_score`: one).
    `frame_words`: `InjectionSettings.mention_frame_words` (a number, so scores are cached)."""
    raw = _unquoted(sentence, frame_words)
    text = normalise(raw)
    if not text:
        return 0.0
    score = 0.0
    if _ROLE_TAG.search(text):
        score += 2.0
    elif _LABEL.search(text) or _AGENT_HEADING.search(text):
        score += 1.5
    if _IMPERATIVE.search(text) or _CLAUSE_IMPERATIVE.search(text) or _FINAL_REQUEST.search(text):
        score += 1.5
    score += sum(weight for cue, weight in _CUES if cue.search(text))
    fields = len({m.group(0).strip(" {,\"'") for m in _ORDER_FIELD.finditer(text)})
    score += min(fields, 2) * 1.0
    addressed = _ADDRESSEE.search(text) or _PROCESS_READER.search(text)
    asking = _ASKING.search(text)
    if addressed:
        score += 1.0
        # an obligation or a request laid on the machine reader: "any AI system ... must state"
        tail = text[addressed.start() :]
        duty = _OBLIGATION.search(tail) or _ASK_VERBS.search(tail)
        if (duty and _DUTY_VERBS.search(tail, duty.end())) or (asking and _DIRECTIVE.search(tail)):
            score += 1.0
    if _YOU.search(text) or _YOU_SIE.search(raw):
        score += 1.0
    if _OUTPUT_NOUNS.search(text) and _CONSTRAINT.search(text):
        score += 1.0
    if _LINK.search(unicodedata.normalize("NFKC", sentence)) or _QUOTE_SPAN.search(sentence):
        score += 0.5
    if _DESCRIPTIVE.search(text) and not asking and score < 3.0:
        score -= 1.0
    return max(score, _part_score(sentence, frame_words))


_CLAUSE_END = re.compile(r"(?<=[.!?;])\s+(?=\S)|(?<=[\u3002\uff01\uff1f\uff1b])\s*(?=\S)|\n+")


def _part_score(sentence: str, frame_words: int) -> float:
    """The best score of the sentences a model would read in it once its letters are folded
    (a fullwidth instruction run into a sentence of the paper)."""
    folded = _WORD_RUN.sub(lambda m: _fold_word(m.group(0)), unicodedata.normalize("NFKC", _fold(sentence)))
    parts = [p for part in _CLAUSE_END.split(folded) for p in split_sentences(part) if p.strip()]
    return max((instruction_score(p, frame_words) for p in parts), default=0.0) if len(parts) > 1 else 0.0


def centrality(vectors: Vectors) -> list[float]:
    """Each sentence's cosine to the mean of the others (unit vectors): how much it is about
    what the rest of the text is about."""
    n = len(vectors)
    total = vectors.sum(axis=0)
    out = []
    for i in range(n):
        rest = (total - vectors[i]) / max(n - 1, 1)
        norm = float(np.linalg.norm(rest))
        out.append(float(vectors[i] @ rest) / norm if norm else 0.0)
    return out


LEARNED_MAX = 10_000  # sentences the probe found steering the model, kept per process
_learned: dict[str, None] = {}


def _skeleton(text: str) -> str:
    return "".join(ch for ch in normalise(text) if ch.isalnum())


def learn(units: Iterable[str]) -> None:
    """Text the known-answer probe (`generation/probe.py`) found steering the model: from now
    on an instruction wherever it is shown, in every path and by the output guard."""
    for unit in units:
        key = _skeleton(unit)
        if len(key) >= 8:
            _learned[key] = None
    while len(_learned) > LEARNED_MAX:
        del _learned[next(iter(_learned))]


def forget() -> None:
    """Nothing learned (a fresh process; tests)."""
    _learned.clear()


def learned(sentence: str, min_chars: int = DEFAULTS.min_learned_chars) -> bool:
    """`sentence` is, holds, or lies inside text the probe found steering the model (inside
    or around each other only from `min_chars` letters and digits)."""
    if not _learned:
        return False
    key = _skeleton(sentence)
    if not key:
        return False
    return key in _learned or any(
        (len(key) >= min_chars and key in known) or (len(known) >= min_chars and known in key)
        for known in _learned
    )


def flagged(
    sentences: list[str],
    vectors: Vectors | None = None,
    threshold: float | None = None,
    tuning: InjectionSettings = DEFAULTS,
) -> list[bool]:
    """Which of consecutive sentences are instructions: those that score `threshold`
    (default `flag_score`), and their neighbours that score `neighbour_score` (an
    instruction goes on: "Ignore the above. Instead of answering, reply only with ...").
    With the sentences' `vectors`, a sentence off the text's topic (one of its `outliers`
    least central ones, below `outlier_centrality`) scores `outlier_score` more: text about
    its own readers is off the topic of a paper about anything else."""
    t = tuning
    bar = t.flag_score if threshold is None else threshold
    scores = [
        float("inf") if learned(s, t.min_learned_chars) else instruction_score(s, t.mention_frame_words)
        for s in sentences
    ]
    if vectors is not None and len(sentences) >= t.min_outlier_sentences:
        c = centrality(vectors)
        for i in sorted(range(len(c)), key=c.__getitem__)[: t.outliers]:
            if c[i] < t.outlier_centrality and scores[i] > 0:
                scores[i] += t.outlier_score
    out = [sc >= bar for sc in scores]
    changed = True
    while changed:
        changed = False
        for i, sc in enumerate(scores):
            if (
                not out[i]
                and sc >= t.neighbour_score
                and any(0 <= j < len(out) and out[j] for j in (i - 1, i + 1))
            ):
                out[i] = changed = True
    return out


def is_instruction(sentence: str, tuning: InjectionSettings = DEFAULTS) -> bool:
    return learned(sentence, tuning.min_learned_chars) or (
        instruction_score(sentence, tuning.mention_frame_words) >= tuning.flag_score
    )


Embed = Callable[[list[str]], Vectors]


def instruction_sentences(
    text: str,
    embed: Embed | None = None,
    threshold: float | None = None,
    tuning: InjectionSettings = DEFAULTS,
) -> list[str]:
    """The sentences of `text` that are instructions; `embed` (unit vectors) lets how far
    off the text's topic a sentence is count too."""
    sentences = split_sentences(text)
    vectors = (
        embed(sentences) if embed is not None and len(sentences) >= tuning.min_outlier_sentences else None
    )
    bad = flagged(sentences, vectors, threshold, tuning)
    return [s for s, b in zip(sentences, bad, strict=True) if b]


def data_only(
    text: str,
    embed: Embed | None = None,
    threshold: float | None = None,
    tuning: InjectionSettings = DEFAULTS,
) -> str:
    """`text` without the sentences that address a machine reader."""
    found = instruction_sentences(text, embed, threshold, tuning)
    for sentence in found:
        text = text.replace(sentence, " ")
    return text if not found else re.sub(r"[ \t]{2,}", " ", text)


def _title_parts(title: str) -> list[str]:
    """A title cut where an instruction could hide: bracketed groups whole, the rest at
    colons and sentence ends."""
    parts: list[str] = []
    for piece in re.split(r"(\[[^\]]*\]|\([^)]*\)|<!--.*?(?:-->|$)|<[^>]*>)", title):
        if piece.startswith(("[", "(", "<")):
            parts.append(piece)
        else:
            parts.extend(p for p in re.split(r"(?<=[:.!?;])\s+", piece) if p.strip())
    return [p for p in parts if p.strip()]


def data_title(title: str, tuning: InjectionSettings = DEFAULTS) -> str:
    """A title as the model may see it: an instruction hidden in it (a sentence, a colon
    part or a bracketed part) is taken out; a title that is nothing but an instruction
    becomes "Untitled paper"."""
    parts = _title_parts(title)
    bad = flagged(parts, tuning=tuning)
    if not any(bad):
        return title
    kept = [p.strip() for p, b in zip(parts, bad, strict=True) if not b]
    return " ".join(kept).strip(" :;") or "Untitled paper"


_CONTENT = re.compile(r"[^\W\d_][\w'-]{3,}|[\u3040-\u30ff\u4e00-\u9fff]{2,}")
_COMMON = frozenset(
    re.findall(
        r"\w+",
        "this that with from only must should answer reply respond summary paper text word words "
        "instead output your yours they them their there then when what which about into other "
        "these those have been will would could also more most such than very each every",
    )
)


def payload_words(
    texts: Iterable[str], removed: Iterable[str] = (), tuning: InjectionSettings = DEFAULTS
) -> tuple[set[str], set[str]]:
    """What the instructions in `texts` ask a model to say and the rest of the texts never
    say (lower case): (strong, weak). Strong: shouted tokens, quoted strings and links of
    the flagged sentences; weak: their other content words."""
    texts = list(texts)
    found = list(
        dict.fromkeys([*(s for t in texts for s in instruction_sentences(t, tuning=tuning)), *removed])
    )
    if not found:
        return set(), set()
    # what the texts say outside their instructions (a title is cut finer: at its colons and brackets)
    rest = " ".join(f"{data_only(t, tuning=tuning)} {data_title(t, tuning)}" for t in texts)
    for sentence in removed:
        rest = rest.replace(sentence, " ")
    rest = normalise(rest)
    strong: set[str] = set()  # shouted tokens, links, quotes and figures of the instructions
    weak: set[str] = set()
    for sentence in found:
        plain = unicodedata.normalize("NFKC", _fold(sentence))
        strong.update(m.group(0).rstrip(".,;") for m in _SHOUTED.finditer(plain))
        strong.update(m.group(0).rstrip(".,;") for m in _LINK.finditer(plain))
        strong.update(n for n in _NUMBER.findall(plain) if len(n) >= 2)  # a figure only an order states
        strong.update(q.strip() for m in _QUOTE_SPAN.finditer(plain) for q in m.groups() if q)
        weak.update(_CONTENT.findall(normalise(sentence)))

    def new(words: set[str]) -> set[str]:
        normal = {normalise(w) for w in words if w}
        return {w for w in normal if (len(w) >= 3 or w.isdigit()) and w not in _COMMON and w not in rest}

    strong = new(strong)
    return strong, new(weak) - strong


class InjectionGuard:
    """The output checks for one LLM call, made from the paper texts it was shown (raw,
    before `data_only`): what their instructions asked for, found once."""

    def __init__(
        self,
        sources: Iterable[str],
        question: str = "",
        removed: Iterable[str] = (),
        tuning: InjectionSettings = DEFAULTS,
    ) -> None:
        self.sources = [s for s in sources if s]
        self.tuning = tuning
        asked = set(normalise(question).split())
        strong, weak = payload_words(self.sources, removed, tuning)
        self.strong, self.weak = strong - asked, weak - asked
        self._clean = " ".join(data_only(t, tuning=tuning) for t in self.sources)

    def obeyed(self, output: str) -> bool:
        """The output carries a strong payload or `weak_payload_words` weak ones, or talks
        about its instructions."""
        if _TALKS_ABOUT_INSTRUCTIONS.search(output) and not _TALKS_ABOUT_INSTRUCTIONS.search(self._clean):
            return True
        said = normalise(output)

        def says(w: str) -> bool:
            return re.search(rf"(?<!\w){re.escape(w)}(?!\w)", said) is not None

        weak = sum(says(w) for w in self.weak)
        return any(says(w) for w in self.strong) or weak >= self.tuning.weak_payload_words

    def stream(self, on_delta: Callable[[str], None]) -> StreamFilter:
        return StreamFilter(self, on_delta)


class StreamFilter:
    """An `on_delta` that holds back the last, unfinished word of the stream and stops for
    good once the text so far obeys an instruction, so no streamed delta shows a payload;
    `flush()` sends the held-back tail at the end."""

    def __init__(self, guard: InjectionGuard, on_delta: Callable[[str], None]) -> None:
        self.guard = guard
        self.on_delta = on_delta
        self.text = ""
        self.sent = 0
        self.stopped = False

    def __call__(self, piece: str) -> None:
        if self.stopped:
            return
        self.text += piece
        if self.guard.obeyed(self.text):
            self.stopped = True
            return
        cut = max(self.text.rfind(" "), self.text.rfind("\n")) + 1  # whole words only
        if cut > self.sent:
            self.on_delta(self.text[self.sent : cut])
            self.sent = cut

    def flush(self) -> None:
        if not self.stopped and not self.guard.obeyed(self.text) and len(self.text) > self.sent:
            self.on_delta(self.text[self.sent :])
            self.sent = len(self.text)
