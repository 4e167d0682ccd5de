# Reference values for transform/stats/cluster_test.go, from statsmodels 0.15.0
# and scipy 1.17.1 (pip install statsmodels scipy pandas). Not run by the tests:
# run it to regenerate the data sets and the values committed in the test.
import numpy as np, statsmodels.api as sm, statsmodels.formula.api as smf, pandas as pd
from statsmodels.stats.contingency_tables import StratifiedTable
from scipy import stats as ss
rng = np.random.default_rng(20260701)
rows=[]
# 3 strata; clusters 0..23 nested in strata (8 each); cluster 24 spans strata 0 and 2
for c in range(25):
    s = c//8 if c<24 else None
    u = rng.normal(0,0.15)
    m = rng.integers(1,6)
    for j in range(m):
        st = s if s is not None else (0 if j%2==0 else 2)
        x = rng.random() < [0.6,0.4,0.25][st]
        p = [0.5,0.4,0.25][st] + (0.15 if x else 0) + u
        y = 1 if rng.random() < min(max(p,0),1) else 0
        rows.append((y,int(x),st,c))
df = pd.DataFrame(rows, columns=['y','x','s','c'])
print("// %d observations" % len(df))
print("var clusterData = []Obs{")
line=[]
for y,x,s,c in rows:
    line.append("{%d, %s, %d, %d}" % (y, 'true' if x else 'false', s, c))
for i in range(0,len(line),6):
    print("\t"+", ".join(line[i:i+6])+",")
print("}")
for formula,name in [('y ~ x','pooled'),('y ~ x + C(s)','stratified')]:
    r = smf.ols(formula, df).fit(cov_type='cluster', cov_kwds={'groups': df['c']}, use_t=True)
    ci = r.conf_int().loc['x']
    print(name, repr(r.params['x']), repr(r.bse['x']), repr(ci[0]), repr(ci[1]), r.df_resid_inference if hasattr(r,'df_resid_inference') else None)
# DiD data
rng = np.random.default_rng(7)
rows=[]
for c in range(30):
    u = rng.normal(0,0.1)
    treated = c % 2 == 0
    for j in range(rng.integers(2,7)):
        after = rng.random() < 0.5
        p = 0.4 + u + (0.05 if treated else 0) + (0.03 if after else 0) + (0.12 if treated and after else 0)
        y = 1 if rng.random() < p else 0
        rows.append((y,int(treated),int(after),c))
d2 = pd.DataFrame(rows, columns=['y','t','a','c'])
print("var didData = []DiDObs{")
line=["{%d, %s, %s, %d}" % (y, 'true' if t else 'false', 'true' if a else 'false', c) for y,t,a,c in rows]
for i in range(0,len(line),5):
    print("\t"+", ".join(line[i:i+5])+",")
print("}")
r = smf.ols('y ~ t * a', d2).fit(cov_type='cluster', cov_kwds={'groups': d2['c']}, use_t=True)
ci = r.conf_int().loc['t:a']
print('did', repr(r.params['t:a']), repr(r.bse['t:a']), repr(ci[0]), repr(ci[1]))

from statsmodels.stats.contingency_tables import StratifiedTable
from statsmodels.stats.power import NormalIndPower
from scipy import stats as ss
# Strata as (X1, N1, X0, N0): exposed events/total, reference events/total.
sets = {
 # Breslow & Day 1980 Vol I, Table 4.? style; fixed example used for testing
 'segments': [(120, 300, 60, 250), (45, 150, 40, 200), (20, 60, 30, 200)],
 'opposite': [(80, 100, 20, 100), (30, 100, 60, 120), (15, 40, 15, 40)],
 'homogeneous': [(50, 100, 30, 100), (25, 50, 15, 50), (100, 200, 60, 200)],
}
for name, st in sets.items():
    tabs = [np.array([[x1, n1-x1],[x0, n0-x0]]) for x1,n1,x0,n0 in st]
    t = StratifiedTable(tabs)
    r0 = t.test_equal_odds(adjust=False)
    r1 = t.test_equal_odds(adjust=True)
    print(name, repr(r0.statistic), repr(r0.pvalue), repr(r1.statistic), repr(r1.pvalue))
for df in [0, 5, 20, 100]:
    if df == 0:
        m = ss.norm.ppf(0.975)+ss.norm.ppf(0.8)
    else:
        m = ss.t.ppf(0.975, df)+ss.t.ppf(0.8, df)
    print('mult', df, repr(m))
# NormalIndPower: standardised effect for n1=n2=200 at 80% power; MDE in sd units = d
d = NormalIndPower().solve_power(effect_size=None, nobs1=200, alpha=0.05, power=0.8, ratio=1.0)
print('normalindpower d', repr(d), 'se', repr(np.sqrt(2/200)))

# Cochran Q
import numpy as np
from statsmodels.stats.meta_analysis import combine_effects
eff = np.array([0.175, 0.168, 0.14])
var = np.array([0.0009, 0.0012, 0.0016])
r = combine_effects(eff, var, method_re="chi2")
print(repr(r.q), repr(r.df), repr(r.mean_effect_fe), repr(r.sd_eff_w_fe))
from scipy import stats
print(repr(stats.chi2.sf(r.q, r.df)))
eff2 = np.array([0.30, 0.05, 0.12, -0.02])
var2 = np.array([0.002, 0.0015, 0.003, 0.0025])
r2 = combine_effects(eff2, var2, method_re="chi2")
print(repr(r2.q), repr(r2.df), repr(stats.chi2.sf(r2.q, r2.df)), repr(r2.mean_effect_fe))
