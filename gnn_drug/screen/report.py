"""``report.html``: one self-contained file (inline SVG, CSS and a little JavaScript; nothing fetched) that a
scientist opens in a browser — run summary, score distributions, a Pareto/scatter plot, and a sortable,
filterable table of the top compounds with 2D structures and a per-compound detail row."""

from __future__ import annotations

import html
import io
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from gnn_drug.data.atomic import atomic_write_text

if TYPE_CHECKING:
    from gnn_drug.screen.ranking import Ranking
    from gnn_drug.screen.runner import ScreenModel


def structure_svg(smiles: str, width: int = 220, height: int = 160) -> str:
    """RDKit 2D depiction as an inline SVG (empty string when the SMILES cannot be parsed)."""
    from rdkit import Chem
    from rdkit.Chem.Draw import rdMolDraw2D

    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return ""
    drawer = rdMolDraw2D.MolDraw2DSVG(width, height)
    drawer.drawOptions().clearBackground = False
    rdMolDraw2D.PrepareAndDrawMolecule(drawer, mol)
    drawer.FinishDrawing()
    svg = drawer.GetDrawingText()
    return svg[svg.index("<svg"):]


def _figure_svg(figure) -> str:
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def _histograms(frame: pd.DataFrame, columns: list[str]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = [c for c in columns if c in frame.columns and pd.api.types.is_numeric_dtype(frame[c])][:6]
    if not columns or frame.empty:
        return ""
    figure, axes = plt.subplots(1, len(columns), figsize=(3.2 * len(columns), 2.6), squeeze=False)
    for ax, column in zip(axes[0], columns, strict=True):
        values = pd.to_numeric(frame[column], errors="coerce").dropna()
        ax.hist(values, bins=30, color="#4c72b0")
        ax.set_title(column, fontsize=9)
        ax.tick_params(labelsize=7)
    figure.tight_layout()
    return _figure_svg(figure)


def _scatter(ranked: pd.DataFrame, top: pd.DataFrame, x: str, y: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if x not in ranked.columns or y not in ranked.columns or ranked.empty:
        return ""
    figure, ax = plt.subplots(figsize=(6, 4.2))
    ax.scatter(ranked[x], ranked[y], s=6, color="#bbbbbb", label="shortlist")
    ax.scatter(top[x], top[y], s=14, color="#4c72b0", label="top")
    if "pareto_front" in top.columns and top["pareto_front"].any():
        front = top[top["pareto_front"]].sort_values(x)
        ax.plot(front[x], front[y], "o-", color="#dd8452", markersize=5, label="Pareto front")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.legend(fontsize=8)
    figure.tight_layout()
    return _figure_svg(figure)


def _cell(value) -> str:
    if isinstance(value, float | np.floating):
        return "" if math.isnan(value) else f"{value:.3f}"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    return html.escape(str(value))


_STYLE = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222}h1{font-size:22px}h2{font-size:17px;margin-top:28px}
table.summary td{padding:2px 12px 2px 0}table#top{border-collapse:collapse;font-size:12px}
#top th{background:#f0f0f0;cursor:pointer;position:sticky;top:0;padding:4px 6px;text-align:left}
#top td{border-top:1px solid #ddd;padding:3px 6px;vertical-align:middle}#top tr.detail td{background:#fafafa}
#top th.sorted-asc::after{content:" \\25B2"}#top th.sorted-desc::after{content:" \\25BC"}
.alert{color:#b00}#filter{margin:8px 0;padding:4px;width:320px}.structure svg{display:block}
"""

_SCRIPT = """
const table=document.getElementById('top');
function rows(){return Array.from(table.tBodies[0].querySelectorAll('tr.compound'));}
table.querySelectorAll('th').forEach((th,col)=>th.addEventListener('click',()=>{
  const asc=!th.classList.contains('sorted-asc');
  table.querySelectorAll('th').forEach(h=>h.classList.remove('sorted-asc','sorted-desc'));
  th.classList.add(asc?'sorted-asc':'sorted-desc');
  const body=table.tBodies[0];
  const key=(r)=>r.cells[col].dataset.v??r.cells[col].textContent;
  rows().sort((a,b)=>{const x=key(a),y=key(b);
    const nx=parseFloat(x),ny=parseFloat(y);const c=(!isNaN(nx)&&!isNaN(ny))?nx-ny:x.localeCompare(y);return asc?c:-c;})
   .forEach(r=>{body.appendChild(r);body.appendChild(document.getElementById('detail-'+r.dataset.row));});
}));
document.getElementById('filter').addEventListener('input',e=>{const q=e.target.value.toLowerCase();
  rows().forEach(r=>{const show=r.textContent.toLowerCase().includes(q);r.style.display=show?'':'none';
    if(!show)document.getElementById('detail-'+r.dataset.row).style.display='none';});});
rows().forEach(r=>r.addEventListener('click',()=>{const d=document.getElementById('detail-'+r.dataset.row);
  d.style.display=d.style.display==='none'?'':'none';}));
"""


def write_report(path: Path, summary: dict, top: pd.DataFrame, shortlist: pd.DataFrame, ranking: Ranking,
                 models: list[ScreenModel]) -> None:
    objective_columns = [o.column for o in ranking.objectives]
    shown = ["rank", "structure", "id", "score", *objective_columns, "qed", "mol_wt", "clogp", "tpsa", "pains",
             "brenk", "in_domain"]
    shown = list(dict.fromkeys(c for c in shown if c == "structure" or c in top.columns))
    prediction_columns = [c for c in top.columns if ":" in c]
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>gnn-drug screen report</title>"
             f"<style>{_STYLE}</style></head><body>",
             "<h1>gnn-drug screen</h1><table class='summary'>"]
    rows = [("library", summary["library"]), ("molecules scored", f"{summary['molecules']:,}"),
            ("rejected (see rejects.csv)", f"{summary['rejects']:,}"),
            ("shortlist with detailed properties", f"{summary['shortlist']:,}"),
            ("passing all filters", f"{summary['ranked']:,}"), ("top compounds", f"{summary['top']:,}"),
            ("time", f"{summary['seconds']:.0f} s ({summary['molecules_per_second']:,.0f} molecules/s)")]
    for model in models:
        rows.append((f"model {model.name}", f"{summary['models'][model.name]} — "
                     f"{', '.join(model.predictor.targets)}"))
    for objective in ranking.objectives:
        rows.append(("objective", f"{objective.direction} {objective.column}, desirability over "
                                  f"{list(objective.range)}, weight {objective.weight}"))
    rows += [("filter", f.describe()) for f in ranking.filters]
    if ranking.diversity:
        rows.append(("diversity", f"{ranking.diversity.method}, min distance {ranking.diversity.min_distance}"))
    parts += [f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(v))}</td></tr>" for k, v in rows]
    parts.append("</table>")
    parts.append("<h2>Score distributions (shortlist)</h2><div id='distributions'>"
                 + _histograms(shortlist, ["score", *objective_columns])
                 + "</div>")
    axes = list(ranking.pareto or objective_columns[:2])
    if len(axes) == 2:
        parts.append(f"<h2>{html.escape(axes[0])} vs {html.escape(axes[1])}</h2><div id='scatter'>"
                     + _scatter(shortlist.dropna(subset=["score"]), top, axes[0], axes[1]) + "</div>")
    parts.append(f"<h2>Top {len(top)} compounds</h2><input id='filter' placeholder='filter rows (id, SMILES, "
                 "alert…)'><table id='top'><thead><tr>"
                 + "".join(f"<th>{html.escape(c)}</th>" for c in shown) + "</tr></thead><tbody>")
    for record in top.to_dict("records"):
        cells = []
        for column in shown:
            if column == "structure":
                cells.append(f"<td class='structure' title='{html.escape(record['smiles'])}'>"
                             f"{structure_svg(record['smiles'])}</td>")
                continue
            value = record.get(column)
            css = " class='alert'" if column in ("pains", "brenk") and value else ""
            sort_key = "" if not isinstance(value, float | int) or isinstance(value, bool) else \
                f" data-v='{value}'"
            cells.append(f"<td{css}{sort_key}>{_cell(value)}</td>")
        parts.append(f"<tr class='compound' data-row='{record['row']}'>" + "".join(cells) + "</tr>")
        detail = {c: record.get(c) for c in ["smiles", "row", *prediction_columns, "hbd", "hba", "rotatable_bonds",
                                              "lipinski_violations", "veber_ok", "inchikey"] if c in record}
        neighbour = ""
        for model in models:
            near = record.get(f"{model.name}:nearest_training_smiles")
            if near:
                neighbour += (f"<div>nearest {html.escape(model.name)} training molecule "
                              f"(Tanimoto {_cell(record.get(f'{model.name}:nearest_similarity'))}): "
                              f"{html.escape(near)}{structure_svg(near, 180, 130)}</div>")
        listing = "".join(f"<b>{html.escape(k)}</b>: {_cell(v)}<br>" for k, v in detail.items())
        parts.append(f"<tr class='detail' id='detail-{record['row']}' style='display:none'>"
                     f"<td colspan='{len(shown)}'>{listing}{neighbour}</td></tr>")
    parts.append("</tbody></table>")
    parts.append(f"<script>{_SCRIPT}</script>")
    parts.append(f"<!-- summary: {html.escape(json.dumps(summary))} --></body></html>")
    atomic_write_text(path, "\n".join(parts))
