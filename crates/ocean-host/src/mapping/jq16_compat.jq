# Definitions layered over jaq's standard library so that a mapping written
# for jq 1.6 (what Port and Ocean run) gives the same answer here. Each keeps
# jaq's native filter under a `_jaq_` name and changes only the cases where
# jq 1.6 answers differently. README "Mapping language" lists what remains.

def _jaq_tostring: tostring;
def _jaq_reverse: reverse;
def _jaq_indices($i): indices($i);
def _jaq_contains($b): contains($b);
def _jaq_del(f): del(f);

# jq 1.6 has a single number type: an integral result prints without ".0".
def tostring:
  if isnumber and isfinite and . == floor and . < 1e17 and . > -1e17
  then floor | _jaq_tostring
  else _jaq_tostring end;

def IN(s): any(s == .; .);
def IN(src; s): any(src == s; .);

# jq 1.6 joins null as "", numbers and booleans as JSON, and rejects the rest.
def join($x):
  reduce .[] as $i (null;
    (if . == null then "" else . + $x end) +
    ($i | if . == null then ""
          elif isstring then .
          elif isnumber or isboolean then tojson
          else error("string (\"\") and \(type) (\(tojson)) cannot be added") end)
  ) // "";

# jq 1.6 returns anything that is not a string with that prefix unchanged.
def ltrimstr($x):
  if isstring and ($x | isstring) and startswith($x) then .[($x | length):] else . end;
def rtrimstr($x):
  if isstring and ($x | isstring) and ($x | length) > 0 and endswith($x)
  then .[:length - ($x | length)] else . end;

def reverse:
  if . == null then []
  elif isstring then error("Cannot index string with number")
  else _jaq_reverse end;

def indices($i): if . == null then null else _jaq_indices($i) end;
def index($i): indices($i) | if . == null then null else .[0] end;
def rindex($i): indices($i) | if . == null then null else .[-1:][0] end;

def contains($b):
  if type == ($b | type) then _jaq_contains($b)
  else error("\(type) (\(tojson)) and \($b | type) (\($b | tojson)) cannot have their containment checked") end;

def del(f): if . == null then null else _jaq_del(f) end;

# jq 1.6 accepts exactly "YYYY-MM-DDTHH:MM:SSZ", without fractional seconds.
def fromdateiso8601: strptime("%Y-%m-%dT%H:%M:%SZ") | mktime;
def fromdate: fromdateiso8601;
def todateiso8601: strftime("%Y-%m-%dT%H:%M:%SZ");
def todate: todateiso8601;
def dateadd(u; n): . + n;
def datesub(u; n): . - n;
def date: todate;
