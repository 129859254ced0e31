# ruff: noqa: E501 - the published templates below are kept verbatim, long lines included
"""Chat-template analysis: escape payloads are found (plain and obfuscated), published templates give nothing.

Templates are parsed, never rendered; the fixtures under ``samples/jinja2`` of the shared corpus calibrate the
rules, and the published templates of popular model families must stay clean at medium and above.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.config import Settings
from bastion.findings import Severity
from bastion.scan.check import Target
from bastion.supplychain.formats.chat_template import (
    ANALYZER,
    MAX_TEMPLATE_CHARS,
    TemplateIssue,
    analyse_template,
)
from bastion.supplychain.modelfiles import ModelFileCheck

FUZZ = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# ---- published chat templates (from the models' tokenizer_config.json) ----
LLAMA_3 = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + "
    "message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
    "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)
LLAMA_31_TOOLS = """{{- bos_token }}
{%- if custom_tools is defined %}
    {%- set tools = custom_tools %}
{%- endif %}
{%- if not tools_in_user_message is defined %}
    {%- set tools_in_user_message = true %}
{%- endif %}
{%- if not date_string is defined %}
    {%- if strftime_now is defined %}
        {%- set date_string = strftime_now("%d %b %Y") %}
    {%- else %}
        {%- set date_string = "26 Jul 2024" %}
    {%- endif %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}

{#- This block extracts the system message, so we can slot it into the right place. #}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}

{#- System message + builtin tools #}
{{- "<|start_header_id|>system<|end_header_id|>\\n\\n" }}
{%- if builtin_tools is defined or tools is not none %}
    {{- "Environment: ipython\\n" }}
{%- endif %}
{%- if builtin_tools is defined %}
    {{- "Tools: " + builtin_tools | reject('equalto', 'code_interpreter') | join(", ") + "\\n\\n"}}
{%- endif %}
{{- "Cutting Knowledge Date: December 2023\\n" }}
{{- "Today Date: " + date_string + "\\n\\n" }}
{%- if tools is not none and not tools_in_user_message %}
    {{- "You have access to the following functions. To call a function, please respond with JSON for a function call." }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\\n\\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\\n\\n" }}
    {%- endfor %}
{%- endif %}
{{- system_message }}
{{- "<|eot_id|>" }}

{#- Custom tools are passed in a user message with some extra guidance #}
{%- if tools_in_user_message and not tools is none %}
    {#- Extract the first user message so we can plug it in here #}
    {%- if messages | length != 0 %}
        {%- set first_user_message = messages[0]['content']|trim %}
        {%- set messages = messages[1:] %}
    {%- else %}
        {{- raise_exception("Cannot put tools in the first user message when there's no first user message!") }}
{%- endif %}
    {{- '<|start_header_id|>user<|end_header_id|>\\n\\n' -}}
    {{- "Given the following functions, please respond with a JSON for a function call " }}
    {{- "with its proper arguments that best answers the given prompt.\\n\\n" }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\\n\\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\\n\\n" }}
    {%- endfor %}
    {{- first_user_message + "<|eot_id|>"}}
{%- endif %}

{%- for message in messages %}
    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}
    {%- elif 'tool_calls' in message %}
        {%- if not message.tool_calls|length == 1 %}
            {{- raise_exception("This model only supports single tool-calls at once!") }}
        {%- endif %}
        {%- set tool_call = message.tool_calls[0].function %}
        {%- if builtin_tools is defined and tool_call.name in builtin_tools %}
            {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}
            {{- "<|python_tag|>" + tool_call.name + ".call(" }}
            {%- for arg_name, arg_val in tool_call.arguments | items %}
                {{- arg_name + '="' + arg_val + '"' }}
                {%- if not loop.last %}
                    {{- ", " }}
                {%- endif %}
                {%- endfor %}
            {{- ")" }}
        {%- else  %}
            {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}
            {{- '{"name": "' + tool_call.name + '", ' }}
            {{- '"parameters": ' }}
            {{- tool_call.arguments | tojson }}
            {{- "}" }}
        {%- endif %}
        {%- if builtin_tools is defined %}
            {#- This means we're in ipython mode #}
            {{- "<|eom_id|>" }}
        {%- else %}
            {{- "<|eot_id|>" }}
        {%- endif %}
    {%- elif message.role == "tool" or message.role == "ipython" %}
        {{- "<|start_header_id|>ipython<|end_header_id|>\\n\\n" }}
        {%- if message.content is mapping or message.content is iterable %}
            {{- message.content | tojson }}
        {%- else %}
            {{- message.content }}
        {%- endif %}
        {{- "<|eot_id|>" }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
{%- endif %}
"""
MIXTRAL = (
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}"
    "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}"
)
MISTRAL_V03_TOOLS = """{%- if messages[0]["role"] == "system" %}
    {%- set system_message = messages[0]["content"] %}
    {%- set loop_messages = messages[1:] %}
{%- else %}
    {%- set loop_messages = messages %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}
{%- set user_messages = loop_messages | selectattr("role", "equalto", "user") | list %}

{#- This block checks for alternating user/assistant messages, skipping tool calling messages #}
{%- set ns = namespace() %}
{%- set ns.index = 0 %}
{%- for message in loop_messages %}
    {%- if not (message.role == "tool" or message.role == "tool_results" or (message.tool_calls is defined and message.tool_calls is not none)) %}
        {%- if (message["role"] == "user") != (ns.index % 2 == 0) %}
            {{- raise_exception("After the optional system message, conversation roles must alternate user/assistant/user/assistant/...") }}
        {%- endif %}
        {%- set ns.index = ns.index + 1 %}
    {%- endif %}
{%- endfor %}

{{- bos_token }}
{%- for message in loop_messages %}
    {%- if message["role"] == "user" %}
        {%- if tools is not none and (message == user_messages[-1]) %}
            {{- "[AVAILABLE_TOOLS] [" }}
            {%- for tool in tools %}
                {%- set tool = tool.function %}
                {{- '{"type": "function", "function": {' }}
                {%- for key, val in tool.items() if key != "return" %}
                    {%- if val is string %}
                        {{- '"' + key + '": "' + val + '"' }}
                    {%- else %}
                        {{- '"' + key + '": ' + val|tojson }}
                    {%- endif %}
                    {%- if not loop.last %}
                        {{- ", " }}
                    {%- endif %}
                {%- endfor %}
                {{- "}}" }}
                {%- if not loop.last %}
                    {{- ", " }}
                {%- else %}
                    {{- "]" }}
                {%- endif %}
            {%- endfor %}
            {{- "[/AVAILABLE_TOOLS]" }}
            {%- endif %}
        {%- if loop.last and system_message is defined %}
            {{- "[INST] " + system_message + "\\n\\n" + message["content"] + "[/INST]" }}
        {%- else %}
            {{- "[INST] " + message["content"] + "[/INST]" }}
        {%- endif %}
    {%- elif message.tool_calls is defined and message.tool_calls is not none %}
        {{- "[TOOL_CALLS] [" }}
        {%- for tool_call in message.tool_calls %}
            {%- set out = tool_call.function|tojson %}
            {{- out[:-1] }}
            {%- if not tool_call.id is defined or tool_call.id|length != 9 %}
                {{- raise_exception("Tool call IDs should be alphanumeric strings with length 9!") }}
            {%- endif %}
            {{- ', "id": "' + tool_call.id + '"}' }}
            {%- if not loop.last %}
                {{- ", " }}
            {%- else %}
                {{- "]" + eos_token }}
            {%- endif %}
        {%- endfor %}
    {%- elif message["role"] == "assistant" %}
        {{- " " + message["content"]|trim + eos_token}}
    {%- elif message["role"] == "tool_results" or message["role"] == "tool" %}
        {%- if message.content is defined and message.content.content is defined %}
            {%- set content = message.content.content %}
        {%- else %}
            {%- set content = message.content %}
        {%- endif %}
        {{- '[TOOL_RESULTS] {"content": ' + content|string + ", " }}
        {%- if not message.tool_call_id is defined or message.tool_call_id|length != 9 %}
            {{- raise_exception("Tool call IDs should be alphanumeric strings with length 9!") }}
        {%- endif %}
        {{- '"call_id": "' + message.tool_call_id + '"}[/TOOL_RESULTS]' }}
    {%- else %}
        {{- raise_exception("Only user and assistant roles are supported, with the exception of an initial optional system message!") }}
    {%- endif %}
{%- endfor %}
"""
QWEN_25 = """{%- if tools %}
    {{- '<|im_start|>system\\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}
    {%- for tool in tools %}
        {{- "\\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
    {%- else %}
        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\\n<tool_call>\\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\\n<tool_response>\\n' }}
        {{- message.content }}
        {{- '\\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
"""
CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + "
    "'\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
GEMMA_2 = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}"
    "{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}"
    "{% endif %}{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}"
)
PHI_3 = (
    "{% for message in messages %}{% if message['role'] == 'system' %}{{'<|system|>\n' + message['content'] + "
    "'<|end|>\n'}}{% elif message['role'] == 'user' %}{{'<|user|>\n' + message['content'] + '<|end|>\n'}}"
    "{% elif message['role'] == 'assistant' %}{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}"
)
DEEPSEEK_R1 = (
    "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}"
    "{% set ns = namespace(is_first=false, is_tool=false, is_output_first=true, system_prompt='', is_first_sp=true) %}"
    "{%- for message in messages %}{%- if message['role'] == 'system' %}{%- if ns.is_first_sp %}"
    "{% set ns.system_prompt = ns.system_prompt + message['content'] %}{% set ns.is_first_sp = false %}{%- else %}"
    "{% set ns.system_prompt = ns.system_prompt + '\n\n' + message['content'] %}{%- endif %}{%- endif %}"
    "{%- endfor %}{{ bos_token }}{{ ns.system_prompt }}{%- for message in messages %}"
    "{%- if message['role'] == 'user' %}{%- set ns.is_tool = false -%}{{'<｜User｜>' + message['content']}}"
    "{%- endif %}{%- if message['role'] == 'assistant' and 'tool_calls' in message %}{%- set ns.is_tool = false -%}"
    "{%- for tool in message['tool_calls'] %}{%- if not ns.is_first %}{%- if message['content'] is none %}"
    "{{'<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + "
    "tool['function']['name'] + '\n' + '```json' + '\n' + tool['function']['arguments'] + '\n' + '```' + "
    "'<｜tool▁call▁end｜>'}}{%- else %}{{'<｜Assistant｜>' + message['content'] + "
    "'<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + "
    "'\n' + '```json' + '\n' + tool['function']['arguments'] + '\n' + '```' + '<｜tool▁call▁end｜>'}}{%- endif %}"
    "{%- set ns.is_first = true -%}{%- else %}{{'\n' + '<｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + "
    "tool['function']['name'] + '\n' + '```json' + '\n' + tool['function']['arguments'] + '\n' + '```' + "
    "'<｜tool▁call▁end｜>'}}{%- endif %}{%- endfor %}{{'<｜tool▁calls▁end｜><｜end▁of▁sentence｜>'}}{%- endif %}"
    "{%- if message['role'] == 'assistant' and 'tool_calls' not in message %}{%- if ns.is_tool %}"
    "{{'<｜tool▁outputs▁end｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}{%- set ns.is_tool = false -%}"
    "{%- else %}{% set content = message['content'] %}{% if '</think>' in content %}"
    "{% set content = content.split('</think>')[-1] %}{% endif %}"
    "{{'<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>'}}{%- endif %}{%- endif %}"
    "{%- if message['role'] == 'tool' %}{%- set ns.is_tool = true -%}{%- if ns.is_output_first %}"
    "{{'<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}"
    "{%- set ns.is_output_first = false %}{%- else %}"
    "{{'<｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}{%- endif %}{%- endif %}"
    "{%- endfor -%}{% if ns.is_tool %}{{'<｜tool▁outputs▁end｜>'}}{% endif %}"
    "{% if add_generation_prompt and not ns.is_tool %}{{'<｜Assistant｜><think>\n'}}{% endif %}"
)
HERMES_TOOL_MACROS = """{%- macro json_to_python_type(json_spec) %}
{%- set basic_type_map = {
    "string": "str",
    "number": "float",
    "integer": "int",
    "boolean": "bool"
} %}

{%- if basic_type_map[json_spec.type] is defined %}
    {{- basic_type_map[json_spec.type] }}
{%- elif json_spec.type == "array" %}
    {{- "list[" +  json_to_python_type(json_spec|items) + "]"}}
{%- elif json_spec.type == "object" %}
    {%- if json_spec.additionalProperties is defined %}
        {{- "dict[str, " + json_to_python_type(json_spec.additionalProperties) + ']'}}
    {%- else %}
        {{- "dict" }}
    {%- endif %}
{%- elif json_spec.type is iterable %}
    {{- "Union[" }}
    {%- for t in json_spec.type %}
      {{- json_to_python_type({"type": t}) }}
      {%- if not loop.last %}
        {{- "," }}
    {%- endif %}
    {%- endfor %}
    {{- "]" }}
{%- else %}
    {{- "Any" }}
{%- endif %}
{%- endmacro %}
{{- bos_token }}
{%- for message in messages %}
    {%- if message.role == "tool" and message.tool_call_id is defined %}
        {%- set ns = namespace(found=false) %}
        {%- for other in messages[:loop.index0] | reverse %}
            {%- if other.tool_calls is defined and not ns.found %}
                {{- "<tool_call_id>" + message.tool_call_id + "</tool_call_id>" }}
                {%- set ns.found = true %}
                {%- break %}
            {%- endif %}
        {%- endfor %}
    {%- endif %}
    {%- generation %}{{ message.content }}{%- endgeneration %}
{%- endfor %}
"""
PUBLISHED = {
    "llama-3": LLAMA_3, "llama-3.1-tools": LLAMA_31_TOOLS, "mixtral": MIXTRAL, "mistral-v0.3-tools": MISTRAL_V03_TOOLS,
    "qwen2.5": QWEN_25, "chatml": CHATML, "gemma-2": GEMMA_2, "phi-3": PHI_3, "deepseek-r1": DEEPSEEK_R1,
    "hermes-macros-break-generation": HERMES_TOOL_MACROS,
}


def rules(issues: list[TemplateIssue], at_least: Severity = Severity.INFO) -> set[str]:
    return {i.rule_id for i in issues if i.severity >= at_least}


def worst(issues: list[TemplateIssue]) -> Severity | None:
    return max((i.severity for i in issues), default=None)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_templates_are_clean(name: str) -> None:
    issues = analyse_template(PUBLISHED[name])
    assert issues == [], f"{name}: {issues}"


# ---- direct escapes ----
@pytest.mark.parametrize(("template", "names"), [
    ("{{ ''.__class__.__mro__[1].__subclasses__() }}", {"__class__", "__mro__", "__subclasses__"}),
    ("{{ ''|attr('__class__')|attr('__mro__') }}", {"__class__", "__mro__"}),
    ("{{ x['__globals__'] }}", {"__globals__"}),
    ("{{ request['application']['\\x5f\\x5fglobals\\x5f\\x5f'] }}", {"__globals__"}),
    ("{{ '{0.__class__.__init__}'.format(x) }}", {"__class__", "__init__"}),
    ("{{ xs|map(attribute='__class__') }}", {"__class__"}),
    ("{{ xs|selectattr('__class__.__name__') }}", {"__class__", "__name__"}),
    ("{% set ns = namespace() %}{% set ns.__dict__ = 1 %}", {"__dict__"}),
    ("{{ self._TemplateReference__context }}", {"_TemplateReference__context"}),
    ("{{ (x for x in y).gi_frame.f_back.f_globals }}", set()),  # generator syntax: jinja rejects it
    ("{{ loop.gi_frame.f_back.f_globals }}", {"gi_frame", "f_back", "f_globals"}),
])
def test_internal_attributes_are_critical(template: str, names: set[str]) -> None:
    issues = analyse_template(template)
    if not names:
        assert rules(issues) == {"BST-TPL-005"}
        return
    internals = [i for i in issues if i.rule_id == "BST-TPL-001"]
    assert len(internals) == 1 and internals[0].severity is Severity.CRITICAL
    assert all(n in internals[0].what for n in names), internals[0].what


def test_llama_drama_payload_reports_every_stage_with_line_and_excerpt() -> None:
    template = ("{% for m in messages %}{{ m.content }}{% endfor %}\n"
                "{% for c in [].__class__.__base__.__subclasses__() %}{% if c.__name__ == 'catch_warnings' %}"
                "{{ c()._module.__builtins__['__import__']('os').system('touch /tmp/x') }}{% endif %}{% endfor %}")
    issues = analyse_template(template)
    by_rule = {i.rule_id: i for i in issues}
    assert by_rule["BST-TPL-001"].what.startswith("__class__, __base__, __subclasses__")
    assert by_rule["BST-TPL-001"].line == 2 and "__class__" in by_rule["BST-TPL-001"].excerpt
    assert by_rule["BST-TPL-003"].what == "system" and by_rule["BST-TPL-003"].severity is Severity.CRITICAL
    assert by_rule["BST-TPL-004"].what == "private attribute _module"
    assert issues[0].rule_id == "BST-TPL-001"  # most severe first


@pytest.mark.parametrize(("template", "expected", "severity"), [
    ("{{ cycler.__init__.__globals__.os.popen('id').read() }}", "os, popen", Severity.CRITICAL),
    ("{{ __builtins__['eval']('1') }}", "eval", Severity.CRITICAL),
    ("{{ getattr(x, 'y') }}", "getattr", Severity.CRITICAL),
    ("{{ x.system('id') }}", "system", Severity.CRITICAL),
    ("{{ os.environ }}", "os, environ", Severity.CRITICAL),
    ("{{ subprocess }}", "subprocess", Severity.HIGH),  # a bare reference: not called, not dereferenced
])
def test_code_execution_names(template: str, expected: str, severity: Severity) -> None:
    issues = [i for i in analyse_template(template) if i.rule_id == "BST-TPL-003"]
    assert [(i.what, i.severity) for i in issues] == [(expected, severity)]


@pytest.mark.parametrize("template", [
    "{{ message.system }}",  # a field named like a function, not called
    "{% set roles = {'system': 'S', 'user': 'U'} %}{{ roles['system'] }}{{ roles[message['role']] }}",
    "{% set system = messages[0]['content'] %}{{ system }}{% if open %}x{% endif %}",
    "{{ message['tool_call_id'] }}{{ ns.map[message['tool_call_id']] }}",
    "{% for key in ['name', 'tool_calls'] %}{{ message[key] }}{% endfor %}",
    "{{ messages[loop.index0 - 1]['content'][::-1] }}",
])
def test_ordinary_names_are_not_flagged(template: str) -> None:
    assert analyse_template(template) == []


# ---- obfuscation ----
@pytest.mark.parametrize("template", [
    "{{ ''|attr('__cla' ~ 'ss__') }}",
    "{{ ''|attr('__cla' + 'ss__') }}",
    "{% set n = '__cla' ~ 'ss__' %}{{ ''|attr(n) }}",
    "{% set a = '__' %}{% set n = a ~ 'globals' ~ a %}{{ x[n] }}",
    "{{ ''|attr('__ssalc__'|reverse) }}",
    "{{ ''|attr('%c%cclass%c%c'|format(95, 95, 95, 95)) }}",
    "{{ ''|attr('_' * 2 ~ 'class' ~ '_' * 2) }}",
    "{{ ''|attr(['_', '_', 'class', '_', '_']|join) }}",
    "{{ ''|attr('XXclassXX'|replace('X', '_')) }}",
    "{{ ''|attr('{}{}class{}{}'.format('_', '_', '_', '_')) }}",
    "{{ ''|attr(''.join(['__', 'class', '__'])) }}",
    "{{ x[''.join([chr(95), chr(95), 'globals', chr(95), chr(95)])] }}",
    "{{ x['__slasbolg__'[::-1]] }}",
    "{% set n %}__class__{% endset %}{{ ''|attr(n) }}",
    "{% for n in ['__class__'] %}{{ ''|attr(n) }}{% endfor %}",
    "{{ x[messages[0]['content'] ~ '__'] }}",
    "{{ ''|attr(q ~ '_' ~ r) }}",
])
def test_obfuscated_names_are_high(template: str) -> None:
    issues = analyse_template(template)
    assert "BST-TPL-002" in rules(issues, Severity.HIGH), issues
    assert worst(issues) is not None and worst(issues) >= Severity.HIGH


def test_folding_is_bounded() -> None:
    # Repetition that would allocate gigabytes, and a printf width, stay unfolded (and finish at once).
    started = time.monotonic()
    assert rules(analyse_template("{{ x['_' * 1000000000] }}")) == {"BST-TPL-002"}
    assert analyse_template("{{ x['%999999999s'|format('a')] }}") == []
    chain = "{{ " + " + ".join(["'a'"] * 20_000) + " }}"
    assert analyse_template(chain) == []
    assert time.monotonic() - started < 10


# ---- odd constructs, syntax, bounds ----
@pytest.mark.parametrize(("template", "rule_id", "severity"), [
    ("{{ lipsum }}", "BST-TPL-004", Severity.MEDIUM),
    ("{{ config.items() }}", "BST-TPL-004", Severity.MEDIUM),
    ("{{ message._private }}", "BST-TPL-004", Severity.MEDIUM),
    ("{% include 'other.j2' %}", "BST-TPL-006", Severity.LOW),
    ("{% from 'macros.j2' import m %}", "BST-TPL-006", Severity.LOW),
    ("{{ unclosed", "BST-TPL-005", Severity.LOW),
])
def test_odd_constructs(template: str, rule_id: str, severity: Severity) -> None:
    issues = analyse_template(template)
    assert [(i.rule_id, i.severity) for i in issues] == [(rule_id, severity)], issues


def test_syntax_error_reports_the_message_and_mentions_internals() -> None:
    issues = analyse_template("{% for x in y %}{{ x.__class__ }}")
    assert [i.rule_id for i in issues] == ["BST-TPL-004", "BST-TPL-005"]
    assert "__class__" in issues[0].what and "endfor" in issues[1].what


def test_size_and_depth_bounds_report_not_examined() -> None:
    big = analyse_template("{{ x }}" + "a" * MAX_TEMPLATE_CHARS)
    assert [i.rule_id for i in big] == ["BST-SCAN-001"] and big[0].incomplete
    deep = analyse_template("{{ " + "(" * 5000 + "x" + ")" * 5000 + " }}")
    assert [i.rule_id for i in deep] == ["BST-SCAN-001"]


def test_namespace_and_hf_globals_are_benign() -> None:
    template = ("{% set ns = namespace(found=false) %}{% for m in messages %}{% if m.role == 'system' %}"
                "{% set ns.found = true %}{% endif %}{% endfor %}{{ strftime_now('%Y-%m-%d') }}"
                "{% if not ns.found %}{{ raise_exception('no system message') }}{% endif %}{{ tools | tojson }}"
                "{% for i in range(3) %}{% if loop.index > 1 %}{% break %}{% endif %}{% continue %}{% endfor %}")
    assert analyse_template(template) == []


# ---- the shared corpus ----
def _corpus_templates(root: Path) -> list[tuple[str, str]]:
    out = []
    for path in sorted(root.rglob("*")):
        if path.suffix == ".json":
            data = json.loads(path.read_text("utf-8"))
            out += [(f"{path.relative_to(root)}:{k}", v) for k, v in data.items()
                    if "template" in k and isinstance(v, str)]
        elif path.suffix in (".j2", ".jinja", ".template"):
            out.append((str(path.relative_to(root)), path.read_text("utf-8")))
    return out


def test_corpus_malicious_detected_benign_clean(shared_models: Path) -> None:
    root = shared_models / "modelaudit-assets" / "samples" / "jinja2"
    if not root.is_dir():
        pytest.skip("samples/jinja2 is absent")
    seen = 0
    for name, text in _corpus_templates(root):
        top = worst(analyse_template(text))
        # Everything but the benign and edge-case samples is a payload (tokenizer_config.json is Llama Drama's);
        # the one edge case with a payload hides it under custom_chat_template.
        benign = "benign" in name or (name.startswith("edge_cases/") and "custom_chat_template" not in name)
        if not benign:
            assert top is not None and top >= Severity.HIGH, name
        else:
            assert top is None or top < Severity.MEDIUM, name
        seen += 1
    assert seen >= 40


# ---- the standalone-template analyser ----
def _examine(path: Path) -> tuple[str | None, list[tuple[str, Severity]], list[str]]:
    outcome = ModelFileCheck(analyzers=(ANALYZER,)).examine(Target(str(path), path, path.stat().st_size), Settings())
    return outcome.kind, [(f.rule_id, f.severity) for f in outcome.findings], outcome.incomplete


def test_template_file_end_to_end(tmp_path: Path) -> None:
    bad = tmp_path / "chat_template.jinja"
    bad.write_text("{% for m in messages %}{{ m.content }}{% endfor %}\n{{ cycler.__init__.__globals__ }}")
    kind, found, incomplete = _examine(bad)
    assert kind == "jinja-template" and ("BST-TPL-001", Severity.CRITICAL) in found and not incomplete
    good = tmp_path / "chat_template.jinja"
    good.write_text(QWEN_25)
    assert _examine(good) == ("jinja-template", [], [])


@pytest.mark.parametrize(("name", "content"), [
    ("notes.txt", b"{{ x.__class__ }}"),  # markup, but not a template file name
    ("chat.jinja", b"plain text without markup"),
    ("chat.jinja", b"\x00\x01{{ binary }}"),
    ("chat.j2", b"\xff\xfe{{ not utf-8 }}"),
])
def test_template_file_sniff_is_strict(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    assert _examine(path)[0] is None


# ---- fuzzing ----
@FUZZ
@given(st.text(max_size=400))
def test_random_text_never_raises(text: str) -> None:
    for issue in analyse_template(text):
        assert isinstance(issue, TemplateIssue)


_PIECES = ["{{", "}}", "{%", "%}", "for", "in", "endfor", "if", "endif", "set", "=", "~", "+", "*", "%", "|",
           "attr(", "join", "format(", "reverse", "replace(", ")", "(", "[", "]", ".", ",", "'__'", "'class'", "x",
           "namespace(", "__class__", "chr(95)", "2", "'_'", "::-1", ":", "macro", "endmacro", "include", "'a'"]


@FUZZ
@given(st.lists(st.sampled_from(_PIECES), max_size=40))
def test_token_soup_never_raises(pieces: list[str]) -> None:
    for issue in analyse_template(" ".join(pieces)):
        assert issue.severity in Severity


@FUZZ
@given(st.sampled_from(sorted(PUBLISHED)), st.integers(min_value=0, max_value=5000), st.text(max_size=8))
def test_mutated_published_templates_never_raise(name: str, at: int, insert: str) -> None:
    text = PUBLISHED[name]
    cut = at % (len(text) + 1)
    analyse_template(text[:cut] + insert + text[cut + len(insert):])


def test_upper_case_sentinel_strings_are_not_attribute_names() -> None:
    # From PyTorch Inductor's Triton templates: a marker value compared against, never used as an attribute.
    template = ('{%- set sentinel = "__NOT_A_NUMBER__" -%}{%- set as_int = value_str | int(default=sentinel) -%}'
                '{{ as_int != sentinel }}')
    assert analyse_template(template) == []
    assert analyse_template('{% set n = "__class__" %}{{ x[n] }}')  # a lower-case dunder still counts
