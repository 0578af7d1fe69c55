/* vsmtp-metrics.c: counters, gauges and histograms, rendered in the
 * Prometheus text exposition format (version 0.0.4)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A metric is a family of series, one per set of label values. The series
 * are found in a hash table keyed by the caller's own array of label values
 * (no key is built for a lookup: an increment of a series seen before
 * allocates nothing); a metric without labels keeps its one series at hand.
 * Each metric has its own lock, so that plugins may update theirs from any
 * thread; the server's are only updated on its main context.
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "vsmtp-metrics.h"

/**
 * VsmtpMetric:
 *
 * One metric of a #VsmtpMetrics registry: a counter, a gauge or a
 * histogram, with a name, a help text and label names. Its series (one per
 * set of label values) are created on their first update.
 *
 * Since: 1.0
 */

/**
 * VsmtpMetrics:
 *
 * A registry of metrics, rendered by vsmtp_metrics_render() in the
 * Prometheus text exposition format. A #VsmtpServer has one
 * (vsmtp_server_get_metrics()), where it counts its connections, sessions,
 * messages and decisions, and where plugins register their own metrics.
 *
 * Since: 1.0
 */

typedef struct {
  char    **values;    /* the label values, owned */
  double    value;     /* counter, gauge; a histogram's sum */
  guint64   count;     /* a histogram's observations */
  guint64  *buckets;   /* a histogram's, per bucket (not cumulative); the last is +Inf */
} Series;

struct _VsmtpMetric
{
  GObject          parent_instance;

  VsmtpMetricType  type;
  char            *name;
  char            *help;
  char           **label_names;
  guint            n_labels;
  double          *bounds;     /* a histogram's upper bounds, ascending */
  gsize            n_bounds;

  GMutex           lock;
  GHashTable      *series;     /* label values (the series') -> Series */
  GPtrArray       *order;      /* Series, in the order they appeared */
  Series          *single;     /* the one series of a metric without labels */
  Series          *last;       /* the series updated last: most updates repeat it */
};

struct _VsmtpMetrics
{
  GObject     parent_instance;

  GMutex      lock;
  GPtrArray  *metrics;        /* VsmtpMetric, in registration order */
  GHashTable *by_name;        /* name -> VsmtpMetric (weak: metrics holds them) */
};

G_DEFINE_FINAL_TYPE (VsmtpMetric, vsmtp_metric, G_TYPE_OBJECT)
G_DEFINE_FINAL_TYPE (VsmtpMetrics, vsmtp_metrics, G_TYPE_OBJECT)

static guint
label_values_hash (gconstpointer key)
{
  const char * const *values = key;
  guint hash = 5381;

  for (; *values != NULL; values++)
    hash = hash * 33 + g_str_hash (*values);
  return hash;
}

static gboolean
label_values_equal (gconstpointer a,
                    gconstpointer b)
{
  return g_strv_equal (a, b);
}

static void
series_free (gpointer data)
{
  Series *series = data;

  g_strfreev (series->values);
  g_free (series->buckets);
  g_free (series);
}

static void
vsmtp_metric_finalize (GObject *object)
{
  VsmtpMetric *self = VSMTP_METRIC (object);

  g_hash_table_unref (self->series);
  g_ptr_array_unref (self->order);
  g_free (self->name);
  g_free (self->help);
  g_strfreev (self->label_names);
  g_free (self->bounds);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (vsmtp_metric_parent_class)->finalize (object);
}

static void
vsmtp_metric_class_init (VsmtpMetricClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = vsmtp_metric_finalize;
}

static void
vsmtp_metric_init (VsmtpMetric *self)
{
  g_mutex_init (&self->lock);
  self->series = g_hash_table_new (label_values_hash, label_values_equal);
  self->order = g_ptr_array_new_with_free_func (series_free);
}

static void
vsmtp_metrics_finalize (GObject *object)
{
  VsmtpMetrics *self = VSMTP_METRICS (object);

  g_hash_table_unref (self->by_name);
  g_ptr_array_unref (self->metrics);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (vsmtp_metrics_parent_class)->finalize (object);
}

static void
vsmtp_metrics_class_init (VsmtpMetricsClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = vsmtp_metrics_finalize;
}

static void
vsmtp_metrics_init (VsmtpMetrics *self)
{
  g_mutex_init (&self->lock);
  self->metrics = g_ptr_array_new_with_free_func (g_object_unref);
  self->by_name = g_hash_table_new (g_str_hash, g_str_equal);
}

/**
 * vsmtp_metrics_new:
 *
 * Creates an empty registry.
 *
 * Returns: (transfer full): a new #VsmtpMetrics
 */
VsmtpMetrics *
vsmtp_metrics_new (void)
{
  return g_object_new (VSMTP_TYPE_METRICS, NULL);
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* (a label name: without ':') */
static gboolean
valid_name (const char *name,
            gboolean    colon)
{
  if (name == NULL || *name == '\0' || g_ascii_isdigit (*name))
    return FALSE;
  for (const char *p = name; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '_' && !(colon && *p == ':'))
      return FALSE;
  return TRUE;
}

static VsmtpMetric *
metrics_register (VsmtpMetrics        *self,
                  VsmtpMetricType      type,
                  const char          *name,
                  const char          *help,
                  const char * const  *label_names,
                  const double        *buckets,
                  gsize                n_buckets)
{
  static const char * const no_labels[] = { NULL };
  VsmtpMetric *metric;

  g_return_val_if_fail (VSMTP_IS_METRICS (self), NULL);
  g_return_val_if_fail (valid_name (name, TRUE), NULL);
  g_return_val_if_fail (help != NULL, NULL);

  if (label_names == NULL)
    label_names = no_labels;
  for (const char * const *label = label_names; *label != NULL; label++)
    {
      g_return_val_if_fail (valid_name (*label, FALSE) && !g_str_has_prefix (*label, "__"), NULL);
      g_return_val_if_fail (type != VSMTP_METRIC_HISTOGRAM || strcmp (*label, "le") != 0, NULL);
    }
  for (gsize i = 1; i < n_buckets; i++)
    g_return_val_if_fail (buckets[i - 1] < buckets[i], NULL);

  g_mutex_lock (&self->lock);
  metric = g_hash_table_lookup (self->by_name, name);
  if (metric != NULL)
    {
      /* registered again (a plugin configured anew): the same metric, if
       * it is the same kind of metric */
      g_mutex_unlock (&self->lock);
      if (metric->type != type || !g_strv_equal ((const char * const *) metric->label_names, label_names))
        {
          g_critical ("metric %s is registered already, with another type or other labels", name);
          return NULL;
        }
      return metric;
    }

  metric = g_object_new (VSMTP_TYPE_METRIC, NULL);
  metric->type = type;
  metric->name = g_strdup (name);
  metric->help = g_strdup (help);
  metric->label_names = g_strdupv ((char **) label_names);
  metric->n_labels = g_strv_length (metric->label_names);
  if (type == VSMTP_METRIC_HISTOGRAM)
    {
      /* a +Inf bound is implied: not stored */
      while (n_buckets > 0 && isinf (buckets[n_buckets - 1]))
        n_buckets--;
      metric->bounds = g_memdup2 (buckets, n_buckets * sizeof (double));
      metric->n_bounds = n_buckets;
    }
  g_ptr_array_add (self->metrics, metric);
  g_hash_table_insert (self->by_name, metric->name, metric);
  g_mutex_unlock (&self->lock);
  return metric;
}

/**
 * vsmtp_metrics_register_counter:
 * @self: a registry
 * @name: the metric's name (`[a-zA-Z_:][a-zA-Z0-9_:]*`), by convention
 *   ending in `_total`
 * @help: what it counts
 * @label_names: (array zero-terminated=1) (nullable): the names of its
 *   labels, %NULL for none
 *
 * Registers a counter. Registering a name again returns the metric already
 * registered under it, if it has the same type and labels.
 *
 * Returns: (transfer none) (nullable): the metric, owned by @self; %NULL if
 *   the name is taken by another kind of metric
 */
VsmtpMetric *
vsmtp_metrics_register_counter (VsmtpMetrics       *self,
                                const char         *name,
                                const char         *help,
                                const char * const *label_names)
{
  return metrics_register (self, VSMTP_METRIC_COUNTER, name, help, label_names, NULL, 0);
}

/**
 * vsmtp_metrics_register_gauge:
 * @self: a registry
 * @name: the metric's name
 * @help: what it measures
 * @label_names: (array zero-terminated=1) (nullable): the names of its
 *   labels, %NULL for none
 *
 * Registers a gauge, as vsmtp_metrics_register_counter() a counter.
 *
 * Returns: (transfer none) (nullable): the metric, owned by @self
 */
VsmtpMetric *
vsmtp_metrics_register_gauge (VsmtpMetrics       *self,
                              const char         *name,
                              const char         *help,
                              const char * const *label_names)
{
  return metrics_register (self, VSMTP_METRIC_GAUGE, name, help, label_names, NULL, 0);
}

/**
 * vsmtp_metrics_register_histogram:
 * @self: a registry
 * @name: the metric's name
 * @help: what it measures
 * @label_names: (array zero-terminated=1) (nullable): the names of its
 *   labels (not `le`), %NULL for none
 * @buckets: (array length=n_buckets): the buckets' upper bounds, ascending
 *   (a `+Inf` bucket is always added)
 * @n_buckets: the number of @buckets
 *
 * Registers a histogram, as vsmtp_metrics_register_counter() a counter.
 *
 * Returns: (transfer none) (nullable): the metric, owned by @self
 */
VsmtpMetric *
vsmtp_metrics_register_histogram (VsmtpMetrics       *self,
                                  const char         *name,
                                  const char         *help,
                                  const char * const *label_names,
                                  const double       *buckets,
                                  gsize               n_buckets)
{
  g_return_val_if_fail (buckets != NULL || n_buckets == 0, NULL);
  return metrics_register (self, VSMTP_METRIC_HISTOGRAM, name, help, label_names, buckets, n_buckets);
}

/**
 * vsmtp_metrics_lookup:
 * @self: a registry
 * @name: a metric's name
 *
 * Finds a registered metric.
 *
 * Returns: (transfer none) (nullable): the metric named @name, or %NULL
 */
VsmtpMetric *
vsmtp_metrics_lookup (VsmtpMetrics *self,
                      const char   *name)
{
  VsmtpMetric *metric;

  g_return_val_if_fail (VSMTP_IS_METRICS (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);

  g_mutex_lock (&self->lock);
  metric = g_hash_table_lookup (self->by_name, name);
  g_mutex_unlock (&self->lock);
  return metric;
}

/**
 * vsmtp_metric_get_name:
 * @self: a metric
 *
 * Returns: the metric's name
 */
const char *
vsmtp_metric_get_name (VsmtpMetric *self)
{
  g_return_val_if_fail (VSMTP_IS_METRIC (self), NULL);
  return self->name;
}

/**
 * vsmtp_metric_get_metric_type:
 * @self: a metric
 *
 * Returns: whether @self is a counter, a gauge or a histogram
 */
VsmtpMetricType
vsmtp_metric_get_metric_type (VsmtpMetric *self)
{
  g_return_val_if_fail (VSMTP_IS_METRIC (self), VSMTP_METRIC_COUNTER);
  return self->type;
}

/* The series of @label_values, created if new; called locked. NULL (and a
 * critical) when the number of values is not the number of labels. */
static Series *
metric_series (VsmtpMetric        *self,
               const char * const *label_values)
{
  Series *series;
  guint n;

  if (self->n_labels == 0 && self->single != NULL &&
      (label_values == NULL || label_values[0] == NULL))
    return self->single;

  n = label_values != NULL ? g_strv_length ((char **) label_values) : 0;
  if (n != self->n_labels)
    {
      g_critical ("metric %s has %u labels, given %u values", self->name, self->n_labels, n);
      return NULL;
    }
  if (n == 0)
    {
      static const char * const none[] = { NULL };
      label_values = none;
    }

  /* the same series as the last update (a counter bumped per message):
   * a few short string compares instead of hashing every value */
  if (self->last != NULL)
    {
      guint i;

      for (i = 0; i < n && strcmp (label_values[i], self->last->values[i]) == 0; i++)
        ;
      if (i == n)
        return self->last;
    }

  series = g_hash_table_lookup (self->series, label_values);
  if (series != NULL)
    return self->last = series;

  series = g_new0 (Series, 1);
  series->values = g_strdupv ((char **) label_values);
  if (self->type == VSMTP_METRIC_HISTOGRAM)
    series->buckets = g_new0 (guint64, self->n_bounds + 1);
  g_hash_table_insert (self->series, series->values, series);
  g_ptr_array_add (self->order, series);
  if (n == 0)
    self->single = series;
  return self->last = series;
}

static void
metric_update (VsmtpMetric        *self,
               const char * const *label_values,
               double              value,
               gboolean            set)
{
  Series *series;

  g_mutex_lock (&self->lock);
  series = metric_series (self, label_values);
  if (series != NULL)
    series->value = set ? value : series->value + value;
  g_mutex_unlock (&self->lock);
}

/**
 * vsmtp_metric_inc:
 * @self: a counter or a gauge
 * @label_values: (array zero-terminated=1) (nullable): the values of its
 *   labels, in the order of their names; %NULL for a metric without labels
 *
 * Adds one to the series of @label_values.
 */
void
vsmtp_metric_inc (VsmtpMetric        *self,
                  const char * const *label_values)
{
  g_return_if_fail (VSMTP_IS_METRIC (self));
  g_return_if_fail (self->type != VSMTP_METRIC_HISTOGRAM);
  metric_update (self, label_values, 1, FALSE);
}

/**
 * vsmtp_metric_dec:
 * @self: a gauge
 * @label_values: (array zero-terminated=1) (nullable): the values of its
 *   labels
 *
 * Takes one from the series of @label_values.
 */
void
vsmtp_metric_dec (VsmtpMetric        *self,
                  const char * const *label_values)
{
  g_return_if_fail (VSMTP_IS_METRIC (self));
  g_return_if_fail (self->type == VSMTP_METRIC_GAUGE);
  metric_update (self, label_values, -1, FALSE);
}

/**
 * vsmtp_metric_add:
 * @self: a counter or a gauge
 * @label_values: (array zero-terminated=1) (nullable): the values of its
 *   labels
 * @value: what to add (not negative, for a counter)
 *
 * Adds @value to the series of @label_values.
 */
void
vsmtp_metric_add (VsmtpMetric        *self,
                  const char * const *label_values,
                  double              value)
{
  g_return_if_fail (VSMTP_IS_METRIC (self));
  g_return_if_fail (self->type != VSMTP_METRIC_HISTOGRAM);
  g_return_if_fail (self->type != VSMTP_METRIC_COUNTER || value >= 0);
  metric_update (self, label_values, value, FALSE);
}

/**
 * vsmtp_metric_set:
 * @self: a gauge
 * @label_values: (array zero-terminated=1) (nullable): the values of its
 *   labels
 * @value: the new value
 *
 * Sets the series of @label_values to @value.
 */
void
vsmtp_metric_set (VsmtpMetric        *self,
                  const char * const *label_values,
                  double              value)
{
  g_return_if_fail (VSMTP_IS_METRIC (self));
  g_return_if_fail (self->type == VSMTP_METRIC_GAUGE);
  metric_update (self, label_values, value, TRUE);
}

/**
 * vsmtp_metric_observe:
 * @self: a histogram
 * @label_values: (array zero-terminated=1) (nullable): the values of its
 *   labels
 * @value: the observation
 *
 * Counts @value in the buckets of the series of @label_values.
 */
void
vsmtp_metric_observe (VsmtpMetric        *self,
                      const char * const *label_values,
                      double              value)
{
  Series *series;
  gsize i;

  g_return_if_fail (VSMTP_IS_METRIC (self));
  g_return_if_fail (self->type == VSMTP_METRIC_HISTOGRAM);

  g_mutex_lock (&self->lock);
  series = metric_series (self, label_values);
  if (series != NULL)
    {
      for (i = 0; i < self->n_bounds && value > self->bounds[i]; i++)
        ;
      series->buckets[i]++;
      series->count++;
      series->value += value;
    }
  g_mutex_unlock (&self->lock);
}

/**
 * vsmtp_metric_get_value:
 * @self: a metric
 * @label_values: (array zero-terminated=1) (nullable): the values of its
 *   labels
 *
 * The current value of a series: a counter's or a gauge's value, a
 * histogram's number of observations; 0 for a series never updated.
 *
 * Returns: the value
 */
double
vsmtp_metric_get_value (VsmtpMetric        *self,
                        const char * const *label_values)
{
  static const char * const none[] = { NULL };
  Series *series;
  double value = 0;

  g_return_val_if_fail (VSMTP_IS_METRIC (self), 0);

  g_mutex_lock (&self->lock);
  series = g_hash_table_lookup (self->series, label_values != NULL ? label_values : none);
  if (series != NULL)
    value = self->type == VSMTP_METRIC_HISTOGRAM ? (double) series->count : series->value;
  g_mutex_unlock (&self->lock);
  return value;
}

/**
 * vsmtp_metric_get_total:
 * @self: a metric
 *
 * The sum of [method@Vsmtp.Metric.get_value] over all the metric's series:
 * a counter's total whatever its labels (connections accepted on every
 * listener, say).
 *
 * Returns: the total
 */
double
vsmtp_metric_get_total (VsmtpMetric *self)
{
  double total = 0;

  g_return_val_if_fail (VSMTP_IS_METRIC (self), 0);

  g_mutex_lock (&self->lock);
  for (guint i = 0; i < self->order->len; i++)
    {
      Series *series = self->order->pdata[i];

      total += self->type == VSMTP_METRIC_HISTOGRAM ? (double) series->count : series->value;
    }
  g_mutex_unlock (&self->lock);
  return total;
}

/* A sample value as Prometheus reads it (Go's ParseFloat) */
static void
append_value (GString *out,
              double   value)
{
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];

  if (isnan (value))
    g_string_append (out, "NaN");
  else if (isinf (value))
    g_string_append (out, value > 0 ? "+Inf" : "-Inf");
  else if (value > -1e15 && value < 1e15 && value == (double) (gint64) value)
    g_string_append_printf (out, "%" G_GINT64_FORMAT, (gint64) value);
  else
    {
      /* the shortest of 15 and 17 digits that reads back the same: 0.005,
       * not 0.0050000000000000001 */
      g_ascii_formatd (buffer, sizeof buffer, "%.15g", value);
      if (g_ascii_strtod (buffer, NULL) != value)
        g_ascii_formatd (buffer, sizeof buffer, "%.17g", value);
      g_string_append (out, buffer);
    }
}

/* \ and newline escaped (HELP); and " (label values) */
static void
append_escaped (GString    *out,
                const char *text,
                gboolean    quote)
{
  for (const char *p = text; *p != '\0'; p++)
    {
      if (*p == '\\')
        g_string_append (out, "\\\\");
      else if (*p == '\n')
        g_string_append (out, "\\n");
      else if (quote && *p == '"')
        g_string_append (out, "\\\"");
      else
        g_string_append_c (out, *p);
    }
}

/* {a="x",b="y"} (with le="@le" last, when given); nothing without labels */
static void
append_labels (GString     *out,
               VsmtpMetric *metric,
               Series      *series,
               const char  *le)
{
  if (metric->n_labels == 0 && le == NULL)
    return;
  g_string_append_c (out, '{');
  for (guint i = 0; i < metric->n_labels; i++)
    {
      if (i > 0)
        g_string_append_c (out, ',');
      g_string_append_printf (out, "%s=\"", metric->label_names[i]);
      append_escaped (out, series->values[i], TRUE);
      g_string_append_c (out, '"');
    }
  if (le != NULL)
    g_string_append_printf (out, "%sle=\"%s\"", metric->n_labels > 0 ? "," : "", le);
  g_string_append_c (out, '}');
}

static void
render_metric (VsmtpMetric *metric,
               GString     *out)
{
  static const char * const types[] = { "counter", "gauge", "histogram" };

  g_string_append_printf (out, "# HELP %s ", metric->name);
  append_escaped (out, metric->help, FALSE);
  g_string_append_printf (out, "\n# TYPE %s %s\n", metric->name, types[metric->type]);

  g_mutex_lock (&metric->lock);
  for (guint s = 0; s < metric->order->len; s++)
    {
      Series *series = g_ptr_array_index (metric->order, s);
      guint64 cumulative = 0;

      if (metric->type != VSMTP_METRIC_HISTOGRAM)
        {
          g_string_append (out, metric->name);
          append_labels (out, metric, series, NULL);
          g_string_append_c (out, ' ');
          append_value (out, series->value);
          g_string_append_c (out, '\n');
          continue;
        }

      for (gsize i = 0; i <= metric->n_bounds; i++)
        {
          GString *le = g_string_new (NULL);

          append_value (le, i < metric->n_bounds ? metric->bounds[i] : INFINITY);
          cumulative += series->buckets[i];
          g_string_append_printf (out, "%s_bucket", metric->name);
          append_labels (out, metric, series, le->str);
          g_string_append_printf (out, " %" G_GUINT64_FORMAT "\n", cumulative);
          g_string_free (le, TRUE);
        }
      g_string_append_printf (out, "%s_sum", metric->name);
      append_labels (out, metric, series, NULL);
      g_string_append_c (out, ' ');
      append_value (out, series->value);
      g_string_append_printf (out, "\n%s_count", metric->name);
      append_labels (out, metric, series, NULL);
      g_string_append_printf (out, " %" G_GUINT64_FORMAT "\n", series->count);
    }
  g_mutex_unlock (&metric->lock);
}

/**
 * vsmtp_metrics_render:
 * @self: a registry
 *
 * Renders every metric in the Prometheus text exposition format, version
 * 0.0.4 (what a scraper gets with the content type
 * `text/plain; version=0.0.4`): per metric its `# HELP` and `# TYPE` lines,
 * then its series in the order they appeared; a histogram's as cumulative
 * `_bucket` series (with an `le` label, `+Inf` last), `_sum` and `_count`.
 *
 * Returns: (transfer full): the text
 */
char *
vsmtp_metrics_render (VsmtpMetrics *self)
{
  GString *out;

  g_return_val_if_fail (VSMTP_IS_METRICS (self), NULL);

  out = g_string_new (NULL);
  g_mutex_lock (&self->lock);
  for (guint i = 0; i < self->metrics->len; i++)
    render_metric (g_ptr_array_index (self->metrics, i), out);
  g_mutex_unlock (&self->lock);
  return g_string_free (out, FALSE);
}
