"""ROUGE as an `evaluate` metric module shipped with the playground, so `evaluate.load(<this
folder>)` works offline (`evaluate.load("rouge")` fetches its script from the Hub).

It takes the same arguments as the Hub's `rouge` metric (predictions, references, rouge_types,
use_aggregator, use_stemmer, tokenizer) and scores with Google's `rouge_score` package the same
way: F-measures, ROUGE-Lsum splitting summaries on newlines, and with use_aggregator=True the
middle of rouge_score's bootstrap aggregate. The playground calls it with use_aggregator=False
and use_stemmer=True and draws its own intervals from the per-example scores."""

import datasets
import evaluate
from rouge_score import rouge_scorer, scoring

ROUGE_TYPES = ["rouge1", "rouge2", "rougeL", "rougeLsum"]


class _CallableTokenizer:
    """rouge_score wants an object with .tokenize(text); users pass a function."""

    def __init__(self, function):
        self.function = function

    def tokenize(self, text):
        return self.function(text)


class Rouge(evaluate.Metric):
    def _info(self):
        text = datasets.Value("string", id="sequence")
        return evaluate.MetricInfo(
            description="ROUGE-1/2/L/Lsum F-measures (Lin, 2004) computed with Google's rouge_score.",
            citation="Lin, Chin-Yew. ROUGE: A Package for Automatic Evaluation of Summaries. ACL 2004.",
            inputs_description="predictions: list of str; references: list of str (or of lists of str).",
            features=[
                datasets.Features({"predictions": text, "references": datasets.Sequence(text)}),
                datasets.Features({"predictions": text, "references": text}),
            ],
        )

    def _compute(self, predictions, references, rouge_types=None, use_aggregator=True, use_stemmer=False,
                 tokenizer=None):
        types = list(rouge_types or ROUGE_TYPES)
        scorer = rouge_scorer.RougeScorer(types, use_stemmer=use_stemmer,
                                          tokenizer=_CallableTokenizer(tokenizer) if tokenizer else None)
        several_references = bool(references) and isinstance(references[0], list)
        per_example = [scorer.score_multi(ref, pred) if several_references else scorer.score(ref, pred)
                       for pred, ref in zip(predictions, references)]
        if not use_aggregator:
            return {key: [score[key].fmeasure for score in per_example] for key in types}
        aggregator = scoring.BootstrapAggregator()
        for score in per_example:
            aggregator.add_scores(score)
        return {key: value.mid.fmeasure for key, value in aggregator.aggregate().items()}
