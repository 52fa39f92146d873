package sagemaker

import (
	"maps"

	"github.com/twin-llm/twin/schemas"
)

// sftDefaults are supervised fine-tuning's hyperparameters: LoRA (QLoRA
// when load_in_4bit is true) with the rank, alpha, dropout, learning rate,
// epochs and batch of the LLM Twin book (an effective batch of 2 × 8 = 16
// examples per device). deploy/training/train.py holds the same values as
// its own defaults, so a job run through the command executor without
// hyperparameters trains alike.
var sftDefaults = map[string]string{
	"lora_r":                      "32",
	"lora_alpha":                  "32",
	"lora_dropout":                "0",
	"learning_rate":               "3e-4",
	"num_train_epochs":            "3",
	"per_device_train_batch_size": "2",
	"gradient_accumulation_steps": "8",
	"max_seq_length":              "2048",
	"warmup_steps":                "10",
	"weight_decay":                "0.01",
	"lr_scheduler_type":           "linear",
	"load_in_4bit":                "false",
	"merge_adapter":               "true",
}

// dpoDefaults are direct preference optimization's: the book's beta, a
// learning rate a hundred times smaller than SFT's and one epoch, on a
// LoRA adapter of the same shape.
var dpoDefaults = map[string]string{
	"beta":                        "0.5",
	"learning_rate":               "2e-6",
	"num_train_epochs":            "1",
	"per_device_train_batch_size": "2",
	"gradient_accumulation_steps": "8",
	"lora_r":                      "32",
	"lora_alpha":                  "32",
	"lora_dropout":                "0",
	"max_length":                  "1024",
	"max_prompt_length":           "512",
	"warmup_steps":                "10",
	"lr_scheduler_type":           "linear",
	"load_in_4bit":                "false",
	"merge_adapter":               "true",
}

// DefaultHyperparameters returns the defaults of a training kind (a fresh
// map the caller may change), or nil for a kind this executor does not
// train.
func DefaultHyperparameters(kind string) map[string]string {
	switch kind {
	case schemas.TrainingSFT:
		return maps.Clone(sftDefaults)
	case schemas.TrainingDPO:
		return maps.Clone(dpoDefaults)
	}
	return nil
}
