#!/usr/bin/env bash
# The TIPC chain: train, export, then Paddle Inference, as the config's lines say.
#     bash test_tipc/prepare.sh CONFIG MODE
#     bash test_tipc/test_train_inference_python.sh CONFIG MODE
# MODE: lite_train_lite_infer | lite_train_whole_infer | whole_train_whole_infer (train,
# export, infer) or whole_infer (export train_model, infer). Each step prints
# "Run successfully with command - ..." or "Run failed with command - ..." and appends it to
# results_python.log under $TIPC_OUTPUT (default: the config's output_dir) / model / mode.
# GPU entries are skipped when Paddle has no GPU. Exit status 1 if any step failed.
set -u
FILENAME=$(realpath "$1")
MODE=$2
cd "$(dirname "$0")/.."

mapfile -t lines < <(sed 's/\r$//' "$FILENAME")
key() { printf '%s' "${1%%:*}"; }
value() { printf '%s' "${1#*:}"; }
mode_value() {  # "lite_train_lite_infer=20|whole_train_whole_infer=100" -> the value for MODE
    local item IFS='|'
    for item in $(value "$1"); do
        if [[ ${item%%=*} == "$MODE" ]]; then printf '%s' "${item#*=}"; return; fi
    done
}
param() {  # "key=value", or nothing when either is null or empty
    if [[ $1 == null || -z $1 || -z $2 || $2 == null ]]; then return; fi
    printf '%s=%s' "$1" "$2"
}
split() { local IFS='|'; read -r -a "$2" <<< "$1"; }

model_name=$(value "${lines[1]}")
python=$(value "${lines[2]}")
split "$(value "${lines[3]}")" gpu_list
amp_key=$(key "${lines[4]}"); amp_value=$(value "${lines[4]}")
iter_key=$(key "${lines[5]}"); iter_value=$(mode_value "${lines[5]}")
save_key=$(key "${lines[6]}"); output_root=$(value "${lines[6]}")
batch_key=$(key "${lines[7]}"); batch_value=$(mode_value "${lines[7]}")
pretrain_key=$(key "${lines[8]}"); pretrain_value=$(value "${lines[8]}")
train_model_name=$(value "${lines[9]}")
train_infer_img_dir=$(value "${lines[10]}")
train_param_key1=$(key "${lines[11]}"); train_param_value1=$(value "${lines[11]}")
norm_train=$(value "${lines[14]}")
eval_py=$(value "${lines[22]}")
save_infer_key=$(key "${lines[26]}")
export_weight_key=$(key "${lines[27]}")
norm_export=$(value "${lines[28]}")
inference_dir=$(value "${lines[34]}")
train_model=$(value "${lines[35]}")
infer_export=$(value "${lines[36]}")
inference_py=$(value "${lines[38]}")
device_key=$(key "${lines[39]}"); split "$(value "${lines[39]}")" device_list
mkldnn_key=$(key "${lines[40]}"); split "$(value "${lines[40]}")" mkldnn_list
threads_key=$(key "${lines[41]}"); split "$(value "${lines[41]}")" threads_list
infer_batch_key=$(key "${lines[42]}"); split "$(value "${lines[42]}")" infer_batch_list
trt_key=$(key "${lines[43]}"); trt_value=$(value "${lines[43]}")
precision_key=$(key "${lines[44]}"); precision_value=$(value "${lines[44]}")
model_dir_key=$(key "${lines[45]}")
image_dir_key=$(key "${lines[46]}"); infer_img_dir=$(value "${lines[46]}")
infer_save_key=$(key "${lines[47]}")
benchmark_key=$(key "${lines[48]}"); benchmark_value=$(value "${lines[48]}")

LOG_PATH="${TIPC_OUTPUT:-$output_root}/${model_name}/${MODE}"
mkdir -p "$LOG_PATH"
status_log="${LOG_PATH}/results_python.log"
failures=0
gpu_count=$("$python" -c "import paddle; print(paddle.device.cuda.device_count() if paddle.device.is_compiled_with_cuda() else 0)" 2>/dev/null | tail -1)
gpu_count=${gpu_count:-0}

status_check() {  # exit status, command, log file
    if [[ $1 -eq 0 ]]; then
        echo -e "\033[33m Run successfully with command - ${model_name} - $2 - $3 \033[0m" | tee -a "$status_log"
    else
        echo -e "\033[33m Run failed with command - ${model_name} - $2 - $3 \033[0m" | tee -a "$status_log"
        failures=$((failures + 1))
    fi
}

run_step() {  # log file, command...: run, show the log, record the status
    local log=$1; shift
    local cmd="$*"
    eval "$cmd" > "$log" 2>&1
    local status=$?
    cat "$log"
    status_check $status "$cmd" "$log"
    return $status
}

run_inference() {  # exported model folder, pictures
    local model_dir=$1 img_dir=$2 device mkldnn threads bs out
    for device in "${device_list[@]}"; do
        if [[ $device == gpu && $gpu_count -lt 1 ]]; then
            echo "skipped inference on gpu: this Paddle has no GPU"
            continue
        fi
        local mkldnn_options=("${mkldnn_list[@]}") thread_options=("${threads_list[@]}")
        if [[ $device == gpu ]]; then mkldnn_options=(null); thread_options=(null); fi
        for mkldnn in "${mkldnn_options[@]}"; do
            for threads in "${thread_options[@]}"; do
                for bs in "${infer_batch_list[@]}"; do
                    out="${LOG_PATH}/infer_${device}_mkldnn_${mkldnn}_threads_${threads}_bs_${bs}"
                    run_step "${out}.log" "$python" "$inference_py" \
                        "$(param "$device_key" "$device")" "$(param "$mkldnn_key" "$mkldnn")" \
                        "$(param "$threads_key" "$threads")" "$(param "$infer_batch_key" "$bs")" \
                        "$(param "$trt_key" "$trt_value")" "$(param "$precision_key" "$precision_value")" \
                        "$(param "$model_dir_key" "$model_dir")" "$(param "$image_dir_key" "$img_dir")" \
                        "$(param "$benchmark_key" "$benchmark_value")" "$(param "$infer_save_key" "$out")"
                done
            done
        done
    done
}

if [[ $MODE == whole_infer ]]; then
    save_dir="${LOG_PATH}/${inference_dir}"
    if [[ $infer_export != null ]]; then
        run_step "${LOG_PATH}/export.log" "$python" "$infer_export" \
            "$(param "$export_weight_key" "$train_model")" "$(param "$save_infer_key" "$save_dir")"
    else
        save_dir=$train_model
    fi
    run_inference "$save_dir" "$infer_img_dir"
else
    for gpu in "${gpu_list[@]}"; do
        launcher=("$python")
        if [[ $gpu == -1 ]]; then
            export CUDA_VISIBLE_DEVICES=""
        else
            n_gpus=$(awk -F, '{print NF}' <<< "$gpu")
            if [[ $gpu_count -lt $n_gpus ]]; then
                echo "skipped training on gpus ${gpu}: this Paddle sees ${gpu_count} GPU(s)"
                continue
            fi
            export CUDA_VISIBLE_DEVICES=$gpu
            if [[ $n_gpus -gt 1 ]]; then launcher=("$python" -m paddle.distributed.launch --gpus="$gpu"); fi
        fi
        save_dir="${LOG_PATH}/norm_train_gpus_${gpu//,/_}"
        run_step "${save_dir}.log" "${launcher[@]}" "$norm_train" \
            "$(param "$save_key" "$save_dir")" "$(param "$iter_key" "$iter_value")" \
            "$(param "$batch_key" "$batch_value")" "$(param "$amp_key" "$amp_value")" \
            "$(param "$pretrain_key" "$pretrain_value")" \
            "$(param "$train_param_key1" "$train_param_value1")" || continue
        if [[ $eval_py != null ]]; then
            run_step "${save_dir}_eval.log" "$python" "$eval_py" "${save_dir}/${train_model_name}"
        fi
        if [[ $norm_export != null ]]; then
            run_step "${save_dir}_export.log" "$python" "$norm_export" \
                "$(param "$export_weight_key" "${save_dir}/${train_model_name}")" \
                "$(param "$save_infer_key" "${save_dir}/${inference_dir}")" || continue
            run_inference "${save_dir}/${inference_dir}" "$train_infer_img_dir"
        fi
        unset CUDA_VISIBLE_DEVICES
    done
fi
[[ $failures -eq 0 ]] || { echo "${failures} step(s) failed; see ${status_log}"; exit 1; }
