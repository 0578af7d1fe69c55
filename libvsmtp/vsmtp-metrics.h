/* vsmtp-metrics.h: counters, gauges and histograms, rendered in the
 * Prometheus text exposition format
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(VSMTP_INSIDE) && !defined(VSMTP_COMPILATION)
# error "Only <vsmtp.h> can be included directly."
#endif

#include <glib-object.h>

#include "vsmtp-version-macros.h"

G_BEGIN_DECLS

/**
 * VsmtpMetricType:
 * @VSMTP_METRIC_COUNTER: a value that only goes up
 * @VSMTP_METRIC_GAUGE: a value that goes up and down
 * @VSMTP_METRIC_HISTOGRAM: observations counted in buckets, with their sum
 *   and count
 *
 * The kind of a #VsmtpMetric.
 */
typedef enum {
  VSMTP_METRIC_COUNTER,
  VSMTP_METRIC_GAUGE,
  VSMTP_METRIC_HISTOGRAM,
} VsmtpMetricType;

#define VSMTP_TYPE_METRIC (vsmtp_metric_get_type ())

VSMTP_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (VsmtpMetric, vsmtp_metric, VSMTP, METRIC, GObject)

#define VSMTP_TYPE_METRICS (vsmtp_metrics_get_type ())

VSMTP_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (VsmtpMetrics, vsmtp_metrics, VSMTP, METRICS, GObject)

VSMTP_AVAILABLE_IN_ALL
VsmtpMetrics    *vsmtp_metrics_new                  (void);
VSMTP_AVAILABLE_IN_ALL
VsmtpMetric     *vsmtp_metrics_register_counter     (VsmtpMetrics        *self,
                                                     const char          *name,
                                                     const char          *help,
                                                     const char * const  *label_names);
VSMTP_AVAILABLE_IN_ALL
VsmtpMetric     *vsmtp_metrics_register_gauge       (VsmtpMetrics        *self,
                                                     const char          *name,
                                                     const char          *help,
                                                     const char * const  *label_names);
VSMTP_AVAILABLE_IN_ALL
VsmtpMetric     *vsmtp_metrics_register_histogram   (VsmtpMetrics        *self,
                                                     const char          *name,
                                                     const char          *help,
                                                     const char * const  *label_names,
                                                     const double        *buckets,
                                                     gsize                n_buckets);
VSMTP_AVAILABLE_IN_ALL
VsmtpMetric     *vsmtp_metrics_lookup               (VsmtpMetrics        *self,
                                                     const char          *name);
VSMTP_AVAILABLE_IN_ALL
char            *vsmtp_metrics_render               (VsmtpMetrics        *self);

VSMTP_AVAILABLE_IN_ALL
const char      *vsmtp_metric_get_name              (VsmtpMetric         *self);
VSMTP_AVAILABLE_IN_ALL
VsmtpMetricType  vsmtp_metric_get_metric_type       (VsmtpMetric         *self);
VSMTP_AVAILABLE_IN_ALL
void             vsmtp_metric_inc                   (VsmtpMetric         *self,
                                                     const char * const  *label_values);
VSMTP_AVAILABLE_IN_ALL
void             vsmtp_metric_dec                   (VsmtpMetric         *self,
                                                     const char * const  *label_values);
VSMTP_AVAILABLE_IN_ALL
void             vsmtp_metric_add                   (VsmtpMetric         *self,
                                                     const char * const  *label_values,
                                                     double               value);
VSMTP_AVAILABLE_IN_ALL
void             vsmtp_metric_set                   (VsmtpMetric         *self,
                                                     const char * const  *label_values,
                                                     double               value);
VSMTP_AVAILABLE_IN_ALL
void             vsmtp_metric_observe               (VsmtpMetric         *self,
                                                     const char * const  *label_values,
                                                     double               value);
VSMTP_AVAILABLE_IN_ALL
double           vsmtp_metric_get_value             (VsmtpMetric         *self,
                                                     const char * const  *label_values);
VSMTP_AVAILABLE_IN_ALL
double           vsmtp_metric_get_total             (VsmtpMetric         *self);

G_END_DECLS
