#!/usr/bin/env python3
"""Fine-tunes twin's LLM on an exported dataset: SFT with LoRA or QLoRA on
instruction pairs, or DPO on preference triples, with TRL and PEFT.

It runs in two places and finds its inputs in each:

* in SageMaker's Hugging Face training container (twin's sagemaker
  executor): the data in /opt/ml/input/data/{train,test}, the
  hyperparameters in /opt/ml/input/config/hyperparameters.json, the model
  written to /opt/ml/model (SageMaker packs it as model.tar.gz);
* anywhere through twin's command executor
  (--trainer command --trainer-command "python deploy/training/train.py"):
  the data in $TWIN_DATASET_DIR/{train,test}.jsonl, the kind in
  $TWIN_TRAINING_KIND, hyperparameters as $TWIN_HP_<NAME>, the model
  written to $TWIN_OUTPUT_DIR.

The datasets are JSONL, one example a line, as twin's datasets consumer
exports them: for SFT {"instruction", "output"} or chat {"messages": [...]},
for DPO {"prompt", "chosen", "rejected"}.

`train.py --check` reads and validates the configuration and the data and
prints what it would train, without loading a model (nor importing torch);
`train.py --print-defaults sft|dpo` prints a kind's default
hyperparameters as JSON. The defaults are those of twin's sagemaker
executor (consumers/trainer/sagemaker/hyperparameters.go); a test keeps the
two equal.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tarfile
from pathlib import Path

SFT_DEFAULTS = {
    "lora_r": 32,
    "lora_alpha": 32,
    "lora_dropout": 0,
    "learning_rate": 3e-4,
    "num_train_epochs": 3,
    "per_device_train_batch_size": 2,
    "gradient_accumulation_steps": 8,
    "max_seq_length": 2048,
    "warmup_steps": 10,
    "weight_decay": 0.01,
    "lr_scheduler_type": "linear",
    "load_in_4bit": False,
    "merge_adapter": True,
}

DPO_DEFAULTS = {
    "beta": 0.5,
    "learning_rate": 2e-6,
    "num_train_epochs": 1,
    "per_device_train_batch_size": 2,
    "gradient_accumulation_steps": 8,
    "lora_r": 32,
    "lora_alpha": 32,
    "lora_dropout": 0,
    "max_length": 1024,
    "max_prompt_length": 512,
    "warmup_steps": 10,
    "lr_scheduler_type": "linear",
    "load_in_4bit": False,
    "merge_adapter": True,
}

DEFAULTS = {"sft": SFT_DEFAULTS, "dpo": DPO_DEFAULTS}

# The base model when neither model_id nor a model channel names one.
DEFAULT_MODEL_ID = "meta-llama/Llama-3.1-8B"

# A chat template for base models that have none (Llama 3.1 8B base): the
# Alpaca layout the LLM Twin book fine-tunes with. Saved with the
# tokenizer, it is what a TGI endpoint formats chat messages with.
ALPACA_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{ message['content'] }}\n\n"
    "{% elif message['role'] == 'user' %}### Instruction:\n{{ message['content'] }}\n\n"
    "{% elif message['role'] == 'assistant' %}### Response:\n{{ message['content'] }}{{ eos_token }}\n\n"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}### Response:\n{% endif %}"
)


class ConfigError(Exception):
    """A configuration or a dataset the program cannot train on."""


def parse_value(raw):
    """A hyperparameter's value: SageMaker's SDKs write them JSON-encoded
    ("\\"32\\""), twin writes them plain ("32"); both become Python values."""
    if not isinstance(raw, str):
        return raw
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    if isinstance(value, str) and value != raw:
        return parse_value(value)
    return value


def as_bool(value) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def resolve(sagemaker_root: Path) -> dict:
    """Where the program runs: its kind, hyperparameters and directories."""
    hp_file = sagemaker_root / "input" / "config" / "hyperparameters.json"
    if hp_file.exists():
        raw = json.loads(hp_file.read_text())
        hp = {k: parse_value(v) for k, v in raw.items() if not k.startswith("sagemaker_")}
        data = sagemaker_root / "input" / "data"
        place = {
            "where": "sagemaker",
            "kind": str(hp.pop("training_kind", "sft")),
            "train": data / "train",
            "test": data / "test",
            "model_channel": data / "model",
            "output": sagemaker_root / "model",
        }
    else:
        dataset = os.environ.get("TWIN_DATASET_DIR")
        output = os.environ.get("TWIN_OUTPUT_DIR")
        if not dataset or not output:
            raise ConfigError(
                "neither SageMaker's hyperparameters.json nor TWIN_DATASET_DIR and TWIN_OUTPUT_DIR: "
                "run it through twin's command executor or in a SageMaker training job"
            )
        hp = {
            k[len("TWIN_HP_"):].lower(): parse_value(v)
            for k, v in os.environ.items()
            if k.startswith("TWIN_HP_")
        }
        place = {
            "where": "local",
            "kind": os.environ.get("TWIN_TRAINING_KIND", "sft"),
            "train": Path(dataset) / "train.jsonl",
            "test": Path(dataset) / "test.jsonl",
            "model_channel": None,
            "output": Path(output),
        }
    kind = place["kind"]
    if kind not in DEFAULTS:
        raise ConfigError(f"training kind {kind!r}: this program trains sft and dpo")
    config = dict(DEFAULTS[kind])
    config.update(hp)
    for name in ("load_in_4bit", "merge_adapter"):
        config[name] = as_bool(config[name])
    config.setdefault("model_id", DEFAULT_MODEL_ID)
    place["config"] = config
    return place


def jsonl_files(path: Path) -> list[Path]:
    """A channel is a directory of .jsonl files (SageMaker), or one file."""
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix == ".jsonl")
    return [path] if path.exists() else []


def read_jsonl(path: Path) -> list[tuple[str, dict]]:
    """The objects of a channel's lines, each with where it was read."""
    rows = []
    for file in jsonl_files(path):
        with file.open(encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except ValueError as e:
                    raise ConfigError(f"{file}:{n}: not JSON: {e}") from e
                if not isinstance(row, dict):
                    raise ConfigError(f"{file}:{n}: not a JSON object")
                rows.append((f"{file}:{n}", row))
    return rows


def sft_example(where: str, row: dict) -> dict:
    """An SFT example as chat messages."""
    if "messages" in row:
        messages = row["messages"]
        if not isinstance(messages, list) or not messages or not all(
            isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
            for m in messages
        ):
            raise ConfigError(f"{where}: messages must be a list of {{role, content}} strings")
        if messages[-1]["role"] != "assistant":
            raise ConfigError(f"{where}: the last message must be the assistant's")
        return {"messages": messages}
    instruction, output = row.get("instruction"), row.get("output")
    if not isinstance(instruction, str) or not isinstance(output, str) or not instruction or not output:
        raise ConfigError(f'{where}: an SFT example has "instruction" and "output" strings, or "messages"')
    return {
        "messages": [
            {"role": "user", "content": instruction},
            {"role": "assistant", "content": output},
        ]
    }


def dpo_example(where: str, row: dict) -> dict:
    """A DPO example in TRL's conversational preference layout, so the
    prompt is formatted as SFT formatted it."""
    fields = [row.get(k) for k in ("prompt", "chosen", "rejected")]
    if not all(isinstance(v, str) and v for v in fields):
        raise ConfigError(f'{where}: a DPO example has "prompt", "chosen" and "rejected" strings')
    prompt, chosen, rejected = fields
    if chosen == rejected:
        raise ConfigError(f"{where}: chosen and rejected are the same text")
    return {
        "prompt": [{"role": "user", "content": prompt}],
        "chosen": [{"role": "assistant", "content": chosen}],
        "rejected": [{"role": "assistant", "content": rejected}],
    }


def load_split(path: Path, kind: str, required: bool) -> list[dict]:
    rows = read_jsonl(path)
    if required and not rows:
        raise ConfigError(f"no {kind} examples in {path}")
    convert = sft_example if kind == "sft" else dpo_example
    return [convert(where, row) for where, row in rows]


def base_model(place: dict) -> str:
    """The model to fine-tune: a model channel (a model.tar.gz or weights
    twin trained before, for DPO on top of SFT) or model_id."""
    channel = place.get("model_channel")
    if channel is not None and channel.is_dir() and any(channel.iterdir()):
        archive = channel / "model.tar.gz"
        if archive.exists():
            target = channel / "unpacked"
            with tarfile.open(archive) as tar:
                try:
                    tar.extractall(target, filter="data")
                except TypeError:  # a Python without extraction filters
                    tar.extractall(target)
            return str(target)
        return str(channel)
    return str(place["config"]["model_id"])


def train(place: dict, train_rows: list[dict], test_rows: list[dict]) -> dict:
    # The ML stack is imported here so --check and --print-defaults run
    # where it is not installed.
    import torch
    from datasets import Dataset
    from peft import LoraConfig, PeftModel, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig

    config, kind, output = place["config"], place["kind"], Path(place["output"])
    model_id = base_model(place)
    bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    dtype = torch.bfloat16 if bf16 else torch.float32

    tokenizer = AutoTokenizer.from_pretrained(model_id)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not tokenizer.chat_template:
        tokenizer.chat_template = ALPACA_TEMPLATE

    quantization = None
    if config["load_in_4bit"]:
        # QLoRA: the base model's weights in 4-bit NF4, the adapter in bf16.
        quantization = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype,
        )
    model = AutoModelForCausalLM.from_pretrained(
        model_id, torch_dtype=dtype, quantization_config=quantization, device_map="auto"
    )
    if quantization is not None:
        model = prepare_model_for_kbit_training(model)

    lora = LoraConfig(
        r=int(config["lora_r"]),
        lora_alpha=int(config["lora_alpha"]),
        lora_dropout=float(config["lora_dropout"]),
        target_modules="all-linear",
        task_type="CAUSAL_LM",
    )
    common = dict(
        output_dir=str(output / "checkpoints"),
        learning_rate=float(config["learning_rate"]),
        num_train_epochs=float(config["num_train_epochs"]),
        per_device_train_batch_size=int(config["per_device_train_batch_size"]),
        per_device_eval_batch_size=int(config["per_device_train_batch_size"]),
        gradient_accumulation_steps=int(config["gradient_accumulation_steps"]),
        warmup_steps=int(config["warmup_steps"]),
        lr_scheduler_type=str(config["lr_scheduler_type"]),
        logging_steps=1,
        save_strategy="no",
        eval_strategy="epoch" if test_rows else "no",
        bf16=bf16,
        gradient_checkpointing=True,
        report_to=[],
        seed=int(config.get("seed", 0)),
    )
    train_set = Dataset.from_list(train_rows)
    test_set = Dataset.from_list(test_rows) if test_rows else None
    if kind == "sft":
        from trl import SFTConfig, SFTTrainer

        args = SFTConfig(
            max_seq_length=int(config["max_seq_length"]),
            weight_decay=float(config["weight_decay"]),
            **common,
        )
        trainer = SFTTrainer(
            model=model, args=args, train_dataset=train_set, eval_dataset=test_set,
            processing_class=tokenizer, peft_config=lora,
        )
    else:
        from trl import DPOConfig, DPOTrainer

        args = DPOConfig(
            beta=float(config["beta"]),
            max_length=int(config["max_length"]),
            max_prompt_length=int(config["max_prompt_length"]),
            **common,
        )
        # With a PEFT adapter the reference model is the base model with
        # the adapter switched off: no second copy in memory.
        trainer = DPOTrainer(
            model=model, ref_model=None, args=args, train_dataset=train_set, eval_dataset=test_set,
            processing_class=tokenizer, peft_config=lora,
        )
    result = trainer.train()
    metrics = {"train_loss": result.training_loss}
    if test_set is not None:
        metrics.update(trainer.evaluate())

    adapter_dir = output / "adapter"
    trainer.save_model(str(adapter_dir))
    if config["merge_adapter"]:
        # An endpoint (TGI) serves whole weights: reload the base model in
        # 16 bits (not 4: merging into quantized weights loses the
        # adapter's precision) and fold the adapter into it.
        del model, trainer
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        base = AutoModelForCausalLM.from_pretrained(model_id, torch_dtype=dtype, device_map="auto")
        merged = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
        merged.save_pretrained(str(output), safe_serialization=True)
    tokenizer.save_pretrained(str(output))
    return metrics


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="validate the configuration and data, train nothing")
    parser.add_argument("--print-defaults", choices=sorted(DEFAULTS), help="print a kind's default hyperparameters")
    parser.add_argument("--sagemaker-root", default="/opt/ml", help="SageMaker's directory (for tests)")
    # SageMaker's container also passes every hyperparameter as --name value.
    args, _ = parser.parse_known_args(argv)

    if args.print_defaults:
        print(json.dumps(DEFAULTS[args.print_defaults], sort_keys=True))
        return 0
    try:
        place = resolve(Path(args.sagemaker_root))
        kind = place["kind"]
        train_rows = load_split(place["train"], kind, required=True)
        test_rows = load_split(place["test"], kind, required=False)
    except ConfigError as e:
        print(f"train.py: {e}", file=sys.stderr)
        return 2
    summary = {
        "where": place["where"],
        "kind": kind,
        "model": base_model(place),
        "train_examples": len(train_rows),
        "test_examples": len(test_rows),
        "hyperparameters": place["config"],
        "output": str(place["output"]),
    }
    print(json.dumps(summary, sort_keys=True, default=str), flush=True)
    if args.check:
        return 0

    output = Path(place["output"])
    output.mkdir(parents=True, exist_ok=True)
    metrics = train(place, train_rows, test_rows)
    summary["metrics"] = metrics
    (output / "twin_training.json").write_text(json.dumps(summary, indent=2, sort_keys=True, default=str))
    print(json.dumps({"metrics": metrics}, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
